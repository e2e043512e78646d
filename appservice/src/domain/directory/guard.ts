import type { MembershipPlan } from "./planner.js";

export interface GuardLimits {
  /** Largest share of managed memberships, or of people, one run may remove, 0..1 (default 0.05). */
  maxRemovalShare: number;
  /** Largest number of memberships, or of people, one run may remove, whatever the share. */
  maxRemovals: number;
  /**
   * Removals made by runs in this window (nobody approved them) count with the plan's, so a
   * series of small runs cannot do what one large run may not; 0 turns the window off.
   */
  windowMs: number;
}

/** What runs applied without approval inside the window already removed. */
export interface RecentRemovals {
  /** Kicks done. */
  memberships: number;
  /** People logged out, locked or deactivated. */
  accounts: ReadonlySet<string>;
}

export const NO_RECENT_REMOVALS: RecentRemovals = { memberships: 0, accounts: new Set() };

export type GuardVerdict = { held: false } | { held: true; reason: string };

/** People a plan logs out, locks or deactivates: each is a removal from every room at once. */
export function accountsRemovedBy(plan: MembershipPlan): Set<string> {
  const accounts = new Set<string>();
  for (const action of plan.actions) {
    if (action.kind === "end-sessions" || action.kind === "lock" || action.kind === "deactivate") accounts.add(action.userId);
  }
  return accounts;
}

/**
 * Mass-removal guard: a plan that removes too many is held for a person to approve. Two things
 * are counted, each against its own base and each with what the window already removed: kicks
 * against the managed memberships, and people logged out, locked or deactivated against the
 * people directory sync knew before this answer (seen active, or leaving): a directory answer
 * that drops most people may remove few memberships yet log everyone out, and people it adds
 * (another site's export, a wrong base DN) must not make what it removes look small.
 */
export function checkRemovals(plan: MembershipPlan, context: { knownPeople: Iterable<string>; recent: RecentRemovals }, limits: GuardLimits): GuardVerdict {
  const { recent } = context;
  const since = (count: number) => (count > 0 ? `, counting ${count} removed in the last ${hours(limits.windowMs)}` : "");
  // The window only adds to a plan that removes something itself: a plan that only adds is never held.
  if (plan.removals > 0) {
    const verdict = judge(plan.removals + recent.memberships, plan.managedMemberships + recent.memberships, limits, (count, base, share) =>
      base === null
        ? `would remove ${count} memberships, more than the limit of ${limits.maxRemovals}${since(recent.memberships)}`
        : `would remove ${count} of ${base} managed memberships (${share}), more than ${percent(limits.maxRemovalShare)}${since(recent.memberships)}`,
    );
    if (verdict.held) return verdict;
  }
  const planned = accountsRemovedBy(plan);
  if (planned.size === 0) return { held: false };
  const accounts = new Set([...recent.accounts, ...planned]);
  const earlier = [...recent.accounts].filter((userId) => !planned.has(userId)).length;
  const people = new Set([...context.knownPeople, ...accounts]);
  return judge(accounts.size, people.size, limits, (count, base, share) =>
    base === null
      ? `would log out, lock or deactivate ${count} people, more than the limit of ${limits.maxRemovals}${since(earlier)}`
      : `would log out, lock or deactivate ${count} of ${base} people (${share}), more than ${percent(limits.maxRemovalShare)}${since(earlier)}`,
  );
}

function judge(count: number, base: number, limits: GuardLimits, reason: (count: number, base: number | null, share: string) => string): GuardVerdict {
  if (count === 0) return { held: false };
  if (count > limits.maxRemovals) return { held: true, reason: reason(count, null, "") };
  const share = base === 0 ? 1 : count / base;
  if (share > limits.maxRemovalShare) return { held: true, reason: reason(count, base, percent(share)) };
  return { held: false };
}

function hours(ms: number): string {
  return `${Math.round((ms / 3_600_000) * 10) / 10} h`;
}

function percent(value: number): string {
  return `${Math.round(value * 1000) / 10}%`;
}
