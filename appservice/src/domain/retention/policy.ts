import type { RoomKind } from "../rooms/room-kind.js";

/** Where a policy applies. The most specific match wins: room, then space, then room kind. */
export type PolicyScope = { type: "room"; roomId: string } | { type: "space"; spaceId: string } | { type: "kind"; kind: RoomKind };

export interface PolicyRules {
  /** Messages older than this are due for deletion (null: no age limit). */
  maxAgeMs: number | null;
  /** Filed content is deleted this long after its filing (null: filing does not trigger deletion). */
  deleteAfterFilingMs: number | null;
  /** Clinical rooms only: may content that was never filed be deleted at maximum age? */
  allowUnfiledDeletion: boolean;
  /** Nothing younger than this is deleted, filed or not. */
  minAgeMs: number;
  /** How long before unfiled clinical content is deleted the room is warned. */
  warnBeforeMs: number;
}

export interface RetentionPolicy extends PolicyRules {
  /** A UUID, or `default-clinical` / `default-operational` for the shipped defaults. */
  id: string;
  name: string;
  scope: PolicyScope;
  builtIn: boolean;
  updatedBy: string;
  updatedAt: Date;
}

export type DefaultPolicies = Record<RoomKind, PolicyRules>;

export function defaultPolicy(kind: RoomKind, rules: PolicyRules): RetentionPolicy {
  return {
    ...rules,
    id: `default-${kind}`,
    name: `Default ${kind} policy`,
    scope: { type: "kind", kind },
    builtIn: true,
    updatedBy: "handover:config",
    updatedAt: new Date(0),
  };
}

/** What a room is, as far as policy matching cares. */
export interface RoomFacts {
  roomId: string;
  kind: RoomKind | null;
  spaceIds: readonly string[];
}

/**
 * Indexes policies so each room's effective policy is found in constant time; built once per
 * plan, not per room.
 */
export class PolicyResolver {
  private readonly byRoom = new Map<string, RetentionPolicy>();
  private readonly bySpace = new Map<string, RetentionPolicy>();
  private readonly byKind = new Map<RoomKind, RetentionPolicy>();

  constructor(policies: readonly RetentionPolicy[], defaults: DefaultPolicies) {
    for (const kind of Object.keys(defaults) as RoomKind[]) this.byKind.set(kind, defaultPolicy(kind, defaults[kind]));
    for (const policy of policies) {
      const scope = policy.scope;
      if (scope.type === "room") this.byRoom.set(scope.roomId, policy);
      else if (scope.type === "space") this.bySpace.set(scope.spaceId, policy);
      else this.byKind.set(scope.kind, policy);
    }
  }

  /** Room, then space (the first of the room's spaces, in sorted order, that has one), then kind. */
  effective(room: RoomFacts): RetentionPolicy | null {
    const own = this.byRoom.get(room.roomId);
    if (own) return own;
    for (const spaceId of [...room.spaceIds].sort()) {
      const spacePolicy = this.bySpace.get(spaceId);
      if (spacePolicy) return spacePolicy;
    }
    return room.kind ? (this.byKind.get(room.kind) ?? null) : null;
  }
}

export function scopeLabel(scope: PolicyScope): string {
  if (scope.type === "room") return `room ${scope.roomId}`;
  if (scope.type === "space") return `space ${scope.spaceId}`;
  return `${scope.kind} rooms`;
}
