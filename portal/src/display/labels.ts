import type { Role, RoomKind } from "@handover/appservice/contract";

export const ROLE_LABELS: Readonly<Record<Role, string>> = {
  admin: "Admin",
  "ig-lead": "Information governance lead",
  auditor: "Auditor",
};

export const ROOM_KIND_LABELS: Readonly<Record<RoomKind, string>> = {
  clinical: "Clinical",
  operational: "Operational",
};

export function yesNo(value: boolean): string {
  return value ? "Yes" : "No";
}
