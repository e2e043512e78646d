import type { MembershipPlan } from "./planner.js";

export interface GuardLimits {
  /** Largest share of managed memberships one run may remove, 0..1 (default 0.05). */
  maxRemovalShare: number;
  /** Largest number of removals one run may make, whatever the share. */
  maxRemovals: number;
}

export type GuardVerdict = { held: false } | { held: true; reason: string };

/** Mass-removal guard: a plan that removes too many is held for a person to approve. */
export function checkRemovals(plan: MembershipPlan, limits: GuardLimits): GuardVerdict {
  const { removals, managedMemberships } = plan;
  if (removals === 0) return { held: false };
  if (removals > limits.maxRemovals) {
    return { held: true, reason: `would remove ${removals} memberships, more than the limit of ${limits.maxRemovals}` };
  }
  const share = managedMemberships === 0 ? 1 : removals / managedMemberships;
  if (share > limits.maxRemovalShare) {
    const percent = (value: number) => `${Math.round(value * 1000) / 10}%`;
    return {
      held: true,
      reason: `would remove ${removals} of ${managedMemberships} managed memberships (${percent(share)}), more than ${percent(limits.maxRemovalShare)}`,
    };
  }
  return { held: false };
}
