import type { Clock } from "../clock.js";
import { holdIsActive, type PlanSettings, planRoom } from "./planner.js";
import { type DefaultPolicies, PolicyResolver } from "./policy.js";
import type { DeletionGate, GateOutcome, HoldStore, PolicyStore, PurgeRecord, RetentionFactsSource, RoomDeletionLock } from "./ports.js";

export interface DeletionGateDeps {
  lock: RoomDeletionLock;
  holds: HoldStore;
  facts: RetentionFactsSource;
  policies: PolicyStore;
  clock: Clock;
  defaults: DefaultPolicies;
  settings: PlanSettings;
}

/** The bot left the room (kicked, or the room was shut down): the purge cannot go on until it is back. */
export class BotNotInRoomError extends Error {
  constructor(roomId: string) {
    super(`Handover's bot is no longer in room ${roomId}: it cannot post the removal notice. Invite it back to finish this deletion.`);
  }
}

/**
 * The last word before a notice or a purge call. A sweep plans minutes (or, after a crash, days)
 * before it deletes; the hold and the effective policy are read again here, under the room's
 * lock, which placing a hold also takes: either the hold is in place before this step and it
 * stops, or the step has happened before the hold is.
 */
export class HoldAndPolicyGate implements DeletionGate {
  constructor(private readonly deps: DeletionGateDeps) {}

  whileAllowed<T>(record: PurgeRecord, step: () => Promise<T>): Promise<GateOutcome<T>> {
    return this.deps.lock.whileLocked(record.roomId, async (): Promise<GateOutcome<T>> => {
      const refusal = await this.refusal(record);
      if (refusal !== null) return { allowed: false, reason: refusal };
      return { allowed: true, value: await step() };
    });
  }

  private async refusal(record: PurgeRecord): Promise<string | null> {
    const now = this.deps.clock.now();
    const hold = await this.deps.holds.get(record.roomId);
    if (holdIsActive(hold, now)) return `Legal hold placed by ${hold.setBy}: ${hold.reason}`;
    const [[facts], policies] = await Promise.all([this.deps.facts.roomFacts(now, [record.roomId]), this.deps.policies.list()]);
    if (!facts) throw new BotNotInRoomError(record.roomId);
    const plan = planRoom(facts, new PolicyResolver(policies, this.deps.defaults).effective(facts), now, this.deps.settings);
    if (plan.status === "held") return plan.reason;
    // The planned deletion must still be one the room's policy makes due now, at least as far.
    if (plan.status !== "due" || plan.policy?.id !== record.policyId || (plan.cutoff?.getTime() ?? 0) < record.cutoff.getTime()) {
      return `The room's retention policy no longer allows this deletion: ${plan.reason}`;
    }
    return null;
  }
}
