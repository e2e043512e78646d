import type { PolicyScopeInput, RoomRetention } from "@handover/appservice/contract";
import { computed } from "vue";
import { ROOM_KIND_LABELS } from "../../display/labels";
import { useSessionStore } from "../../stores/session";

export const STATUS_LABELS: Readonly<Record<RoomRetention["status"], string>> = {
  "no-policy": "No policy",
  held: "Legal hold",
  "nothing-due": "Nothing due",
  due: "Due now",
};

export function scopeText(scope: PolicyScopeInput): string {
  if (scope.type === "kind") return `All ${ROOM_KIND_LABELS[scope.kind].toLowerCase()} rooms`;
  if (scope.type === "space") return `Rooms in space ${scope.spaceId}`;
  return `Room ${scope.roomId}`;
}

/** Who may change policies and holds, read from the route table so portal and server agree. */
export function useCanManageRetention() {
  const session = useSessionStore();
  return computed(() => session.may("createRetentionPolicy"));
}
