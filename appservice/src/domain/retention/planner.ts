import type { RoomKind } from "../rooms/room-kind.js";
import type { PlanStatus } from "./plan-status.js";
import type { PolicyResolver, RetentionPolicy, RoomFacts } from "./policy.js";

export interface LegalHold {
  roomId: string;
  reason: string;
  setBy: string;
  setAt: Date;
  expiresAt: Date | null;
}

export function holdIsActive(hold: LegalHold | null, now: Date): hold is LegalHold {
  return hold !== null && (hold.expiresAt === null || hold.expiresAt.getTime() > now.getTime());
}

/** Everything planning needs to know about one room, gathered in bulk by the store. */
export interface RoomRetentionFacts extends RoomFacts {
  name: string | null;
  hold: LegalHold | null;
  /**
   * The filed prefix of the room: every event sent up to `upToTs` is held by a filing (filed
   * means captured), with the newest filing that holds part of it. Null when the oldest event
   * is already unfiled.
   */
  filing: { upToTs: Date; filedAt: Date; filingRef: string } | null;
  /** Message events Handover has seen and not yet purged. */
  eventCount: number;
  oldestEventTs: Date | null;
  /** Of those, how many some filing captured. */
  filedCount: number;
  /**
   * Oldest event no filing holds: never filed, or named by a filing that could not capture it
   * (a message whose key never arrived, a file too large or unreadable). Nothing from it on is
   * released by filing.
   */
  oldestUnfiledTs: Date | null;
  /** Newest covers_up_to of warnings whose due date has come: unfiled content up to it may go. */
  warnedUpTo: Date | null;
  /** Newest covers_up_to of every warning sent so far, due or not. */
  warningsCoverUpTo: Date | null;
  /** Oldest unfiled event not covered by any warning sent so far (due or not). */
  oldestUnwarnedUnfiledTs: Date | null;
  /** The next warning still in the future, if any. */
  pendingWarningDueAt: Date | null;
}

export interface WarningDue {
  dueAt: Date;
  /** Unfiled content sent up to this time will be deleted on dueAt. */
  coversUpTo: Date;
}

export interface RoomPlan {
  roomId: string;
  name: string | null;
  kind: RoomKind | null;
  policy: RetentionPolicy | null;
  status: PlanStatus;
  /** When due: delete everything sent up to this time. */
  cutoff: Date | null;
  /** Why (or why not), in words. */
  reason: string;
  /** The deletion includes clinical content that was never filed (allowed by the policy, after a warning). */
  includesUnfiled: boolean;
  filingRef: string | null;
  nextDeletionAt: Date | null;
  /** A warning to post now, in advance of deleting unfiled clinical content. */
  warning: WarningDue | null;
  filedCount: number;
  unfiledCount: number;
  hold: LegalHold | null;
}

export interface PlanSettings {
  /** Due dates of warnings are rounded up to this, so a room gets one warning per due date. */
  warningGranularityMs: number;
}

const at = (ms: number) => new Date(ms);
const min = (a: number, b: number) => (a < b ? a : b);

function roundUp(ms: number, granularity: number): number {
  return Math.ceil(ms / granularity) * granularity;
}

/**
 * The filing as far as it holds the room's content: never past the oldest event no filing
 * captured, whatever range the filing read. Purges are cut by time, so one uncaptured message
 * keeps everything sent from it on out of the delete-after-filing rule.
 */
function filedPrefix(facts: RoomRetentionFacts): RoomRetentionFacts["filing"] {
  const filing = facts.filing;
  if (!filing || facts.oldestUnfiledTs === null || facts.oldestUnfiledTs.getTime() > filing.upToTs.getTime()) return filing;
  const before = facts.oldestUnfiledTs.getTime() - 1;
  if (facts.oldestEventTs !== null && before < facts.oldestEventTs.getTime()) return null;
  return { ...filing, upToTs: at(before) };
}

/**
 * Decides, for one room, what may be deleted now and why. Pure: the sweep, the dry run and the
 * portal all use it, so what is shown is what will happen.
 */
export function planRoom(facts: RoomRetentionFacts, policy: RetentionPolicy | null, now: Date, settings: PlanSettings): RoomPlan {
  const base: RoomPlan = {
    roomId: facts.roomId,
    name: facts.name,
    kind: facts.kind,
    policy,
    status: "nothing-due",
    cutoff: null,
    reason: "",
    includesUnfiled: false,
    filingRef: null,
    nextDeletionAt: null,
    warning: null,
    filedCount: facts.filedCount,
    unfiledCount: facts.eventCount - facts.filedCount,
    hold: holdIsActive(facts.hold, now) ? facts.hold : null,
  };
  if (!policy) return { ...base, status: "no-policy", reason: "No policy applies (the room is not classified and no room or space policy matches)." };
  if (base.hold) return { ...base, status: "held", reason: `Legal hold: ${base.hold.reason}` };

  const t = now.getTime();
  const minCut = t - policy.minAgeMs;
  const ageCut = policy.maxAgeMs === null ? null : t - policy.maxAgeMs;
  // Unclassified rooms under a room or space policy get the clinical safety rule.
  const clinicalRules = facts.kind !== "operational";
  const filing = filedPrefix(facts);
  const candidates: { cut: number; why: string; unfiled: boolean; filed: boolean }[] = [];
  const future: number[] = [];

  if (filing) {
    const filedUpTo = filing.upToTs.getTime();
    if (policy.deleteAfterFilingMs !== null) {
      const releasedAt = filing.filedAt.getTime() + policy.deleteAfterFilingMs;
      if (releasedAt <= t)
        candidates.push({ cut: filedUpTo, why: `filed (${filing.filingRef}) and the delete-after-filing delay has passed`, unfiled: false, filed: true });
      else future.push(releasedAt);
    }
    if (ageCut !== null && clinicalRules) candidates.push({ cut: min(filedUpTo, ageCut), why: "filed and past the maximum age", unfiled: false, filed: true });
  }
  if (ageCut !== null) {
    if (!clinicalRules) candidates.push({ cut: ageCut, why: "past the maximum age", unfiled: false, filed: false });
    else if (policy.allowUnfiledDeletion && facts.warnedUpTo !== null) {
      candidates.push({
        cut: min(ageCut, facts.warnedUpTo.getTime()),
        why: "past the maximum age; unfiled, deleted as the policy allows after a warning",
        unfiled: true,
        filed: false,
      });
    }
  }

  let warning: WarningDue | null = null;
  if (clinicalRules && policy.allowUnfiledDeletion && policy.maxAgeMs !== null && facts.oldestUnwarnedUnfiledTs !== null) {
    const natural = facts.oldestUnwarnedUnfiledTs.getTime() + policy.maxAgeMs;
    if (t >= natural - policy.warnBeforeMs) {
      // The room always gets the full warning period, even when the warning goes out late.
      const dueAt = roundUp(Math.max(natural, t + policy.warnBeforeMs), settings.warningGranularityMs);
      warning = { dueAt: at(dueAt), coversUpTo: at(dueAt - policy.maxAgeMs) };
    } else future.push(natural);
  }
  if (facts.pendingWarningDueAt) future.push(facts.pendingWarningDueAt.getTime());

  const best = candidates.reduce<(typeof candidates)[number] | null>((top, candidate) => (top === null || candidate.cut > top.cut ? candidate : top), null);
  const oldest = facts.oldestEventTs?.getTime() ?? null;
  if (best && oldest !== null) {
    const cut = min(best.cut, minCut);
    if (oldest <= cut) {
      const filedUpTo = filing?.upToTs.getTime() ?? Number.NEGATIVE_INFINITY;
      return {
        ...base,
        status: "due",
        cutoff: at(cut),
        reason: `Messages sent up to ${at(cut).toISOString()}: ${best.why}.`,
        includesUnfiled: clinicalRules && cut > filedUpTo,
        filingRef: best.filed || (filing && filedUpTo <= cut) ? (filing?.filingRef ?? null) : null,
        warning,
      };
    }
    if (cut < oldest && policy.minAgeMs > 0 && best.cut >= oldest) future.push(oldest + policy.minAgeMs);
  }
  if (oldest !== null && policy.maxAgeMs !== null && (!clinicalRules || (filing && filing.upToTs.getTime() >= oldest))) future.push(oldest + policy.maxAgeMs);
  const next = future.filter((ms) => ms > t).reduce<number | null>((soonest, ms) => (soonest === null || ms < soonest ? ms : soonest), null);
  const reason =
    oldest === null
      ? "No messages held for this room."
      : clinicalRules && !policy.allowUnfiledDeletion && facts.filing && !filing && facts.oldestUnfiledTs !== null
        ? `Nothing is due: messages from ${facts.oldestUnfiledTs.toISOString()} on are not held by the record (not filed, or a filing could not capture them) and are kept until they are filed.`
        : clinicalRules && !policy.allowUnfiledDeletion && !filing
          ? "Nothing is due: unfiled clinical content is kept until it is filed."
          : "Nothing is due yet.";
  return { ...base, reason, nextDeletionAt: next === null ? null : at(next), warning };
}

/** Plans every room with one resolver, so 10,000 rooms cost one pass. */
export function planRooms(rooms: readonly RoomRetentionFacts[], resolver: PolicyResolver, now: Date, settings: PlanSettings): RoomPlan[] {
  return rooms.map((facts) => planRoom(facts, resolver.effective(facts), now, settings));
}
