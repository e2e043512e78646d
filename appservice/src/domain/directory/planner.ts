import type { DesiredState, MembershipReason } from "./desired.js";

export type Membership = "join" | "invite" | "leave" | "ban" | "knock";

/** What the homeserver says a managed room looks like now. */
export interface ActualRoom {
  roomId: string;
  /** Present if the room exists and the bot can read it. */
  members: Map<string, Membership>;
  /** m.room.power_levels `users` and `users_default`. */
  users: Record<string, number>;
  usersDefault: number;
  /** False when the bot must first take the room (join with power) before writing to it. */
  botCanManage: boolean;
}

export type KickWhy = "leaver" | "no-matching-rule" | "not-in-directory";

export type MembershipAction =
  | { kind: "take-room"; roomId: string }
  | { kind: "invite" | "force-join"; roomId: string; userId: string; reasons: MembershipReason[] }
  | { kind: "kick"; roomId: string; userId: string; why: KickWhy }
  | { kind: "set-power"; roomId: string; changes: { userId: string; from: number; to: number; reasons: MembershipReason[] }[] }
  | { kind: "end-sessions" | "lock" | "deactivate"; userId: string; why: "leaver" };

/** A leaver Handover already knows about (left_at recorded), with what was done so far. */
export interface KnownLeaver {
  userId: string;
  leftAt: Date;
  sessionsEnded: boolean;
  accountClosed: boolean;
}

export interface PlanOptions {
  serverName: string;
  botUserId: string;
  /** Never touched: bots, break-glass accounts. */
  exempt: ReadonlySet<string>;
  leaverPolicy: { action: "lock" | "deactivate" | "none"; graceMs: number; endSessions: boolean };
  now: Date;
}

export interface MembershipPlan {
  actions: MembershipAction[];
  /** Managed users present (joined or invited) in managed rooms now: the guard's base. */
  managedMemberships: number;
  removals: number;
  /** Rooms a rule names that the bot could not read (not created yet, or the bot is out). */
  unreadableRooms: string[];
}

/**
 * The difference between desired and actual membership as homeserver writes, one per needed
 * change: an invite or join per missing member, a kick per member who should not be there, one
 * power-levels event per room whose levels differ, and the leaver steps that are due. Pure, so
 * it is benchmarked and unit-tested without a homeserver; a second plan after applying this one
 * is empty.
 */
export function planMembership(
  desired: DesiredState,
  actual: ReadonlyMap<string, ActualRoom>,
  leavers: readonly KnownLeaver[],
  options: PlanOptions,
): MembershipPlan {
  const suffix = `:${options.serverName}`;
  const managed = (userId: string) => userId.endsWith(suffix) && userId !== options.botUserId && !options.exempt.has(userId);
  const actions: MembershipAction[] = [];
  const unreadableRooms: string[] = [];
  let managedMemberships = 0;
  let removals = 0;

  for (const [roomId, wanted] of desired.rooms) {
    const room = actual.get(roomId);
    if (!room) {
      unreadableRooms.push(roomId);
      continue;
    }
    const roomStart = actions.length;
    for (const [userId, membership] of room.members) {
      if (!managed(userId) || (membership !== "join" && membership !== "invite")) continue;
      managedMemberships++;
      if (wanted.has(userId)) continue;
      const why: KickWhy = desired.disabled.has(userId) ? "leaver" : desired.people.has(userId) ? "no-matching-rule" : "not-in-directory";
      actions.push({ kind: "kick", roomId, userId, why });
      removals++;
    }
    const changes: Extract<MembershipAction, { kind: "set-power" }>["changes"] = [];
    for (const [userId, member] of wanted) {
      if (!managed(userId)) continue;
      const membership = room.members.get(userId);
      // A ban is a moderator's decision: directory sync does not overturn it.
      if (membership === "ban") continue;
      if (membership !== "join" && membership !== "invite") {
        const local = userId.endsWith(suffix);
        actions.push({ kind: member.joinMode === "force-join" && local ? "force-join" : "invite", roomId, userId, reasons: member.reasons });
      }
      const current = room.users[userId] ?? room.usersDefault;
      if (current !== member.level) changes.push({ userId, from: current, to: member.level, reasons: member.reasons });
    }
    if (changes.length > 0) actions.push({ kind: "set-power", roomId, changes });
    if (actions.length > roomStart && !room.botCanManage) actions.splice(roomStart, 0, { kind: "take-room", roomId });
  }

  const due = options.now.getTime() - options.leaverPolicy.graceMs;
  for (const leaver of leavers) {
    if (!managed(leaver.userId) || desired.people.has(leaver.userId)) continue;
    if (options.leaverPolicy.endSessions && !leaver.sessionsEnded) actions.push({ kind: "end-sessions", userId: leaver.userId, why: "leaver" });
    if (options.leaverPolicy.action !== "none" && !leaver.accountClosed && leaver.leftAt.getTime() <= due) {
      actions.push({ kind: options.leaverPolicy.action, userId: leaver.userId, why: "leaver" });
    }
  }
  return { actions, managedMemberships, removals, unreadableRooms };
}

/** Users the directory says have gone: disabled everywhere, or no longer listed at all. */
export function newLeavers(desired: DesiredState, previouslyActive: Iterable<string>): string[] {
  const gone = new Set(desired.disabled);
  for (const userId of previouslyActive) if (!desired.people.has(userId)) gone.add(userId);
  return [...gone];
}
