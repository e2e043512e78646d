import { randomUUID } from "node:crypto";
import type { AuditRecorder } from "../audit/audit-trail.js";
import type { Clock } from "../clock.js";
import { type PlanSettings, planRooms, type RoomPlan } from "./planner.js";
import { type DefaultPolicies, PolicyResolver } from "./policy.js";
import type { PolicyStore, PurgeLedger, PurgeRecord, RetentionFactsSource, RetentionNotifier, WarningLedger } from "./ports.js";
import { plannedPurge } from "./ports.js";
import type { PurgeExecutor } from "./purge-executor.js";
import type { RetentionStatePublication } from "./state-publication.js";

export const SWEEP_ACTOR = "handover:retention";

export interface SweepDeps {
  facts: RetentionFactsSource;
  policies: PolicyStore;
  ledger: PurgeLedger;
  warnings: WarningLedger;
  notifier: RetentionNotifier;
  executor: PurgeExecutor;
  publication: RetentionStatePublication;
  audit: AuditRecorder;
  clock: Clock;
  defaults: DefaultPolicies;
  /**
   * `purgeConcurrency`: rooms driven at once; how many of their steps reach Synapse at once is
   * the executor's pacer's call.
   */
  settings: PlanSettings & { maxPurgesPerSweep: number; purgeConcurrency?: number };
  /** Every failed attempt (for metrics and logs); the audit trail gets each new problem once. */
  onPurgeFailed: (record: PurgeRecord, error: unknown) => void;
}

export interface RoomPlanWithCount extends RoomPlan {
  /** Message events Handover has seen that the due deletion would remove. */
  dueEventCount: number;
}

export interface SweepOutcome {
  resumed: number;
  warned: number;
  deletions: PurgeRecord[];
  waiting: number;
  /** Purges that failed this time (kept open with their error, tried again next sweep). */
  failed: number;
  published: number;
}

function warningText(count: number, dueAt: Date): string {
  const when = `${dueAt.toISOString().replace("T", " ").slice(0, 16)} UTC`;
  return `${count} message${count === 1 ? "" : "s"} in this room about this patient ${count === 1 ? "has" : "have"} not been filed in the record and will be deleted on ${when} under this room's retention policy. File them before then to keep them.`;
}

export interface PlannerDeps {
  facts: RetentionFactsSource;
  policies: PolicyStore;
  clock: Clock;
  defaults: DefaultPolicies;
  settings: PlanSettings;
}

/** The dry run: what a sweep would do now, per room. The sweep itself plans through it. */
export class RetentionPlanner {
  constructor(private readonly deps: PlannerDeps) {}

  async plan(roomIds?: readonly string[]): Promise<RoomPlanWithCount[]> {
    const now = this.deps.clock.now();
    const [facts, policies] = await Promise.all([this.deps.facts.roomFacts(now, roomIds), this.deps.policies.list()]);
    const plans = planRooms(facts, new PolicyResolver(policies, this.deps.defaults), now, this.deps.settings);
    const due = plans.filter((plan) => plan.status === "due" && plan.cutoff !== null).map((plan) => ({ roomId: plan.roomId, cutoff: plan.cutoff as Date }));
    const counts = due.length > 0 ? await this.deps.facts.countUpTo(due) : new Map<string, number>();
    return plans.map((plan) => ({ ...plan, dueEventCount: counts.get(plan.roomId) ?? 0 }));
  }
}

/**
 * One pass of retention: finish purges a previous pass left open, plan every room, warn rooms
 * whose unfiled content is coming due, purge what is due, and publish changed policies.
 */
export class RetentionSweep {
  private readonly planner: RetentionPlanner;

  constructor(private readonly deps: SweepDeps) {
    this.planner = new RetentionPlanner(deps);
  }

  plan(roomIds?: readonly string[]): Promise<RoomPlanWithCount[]> {
    return this.planner.plan(roomIds);
  }

  async run(actor: string = SWEEP_ACTOR): Promise<SweepOutcome> {
    const outcome: SweepOutcome = { resumed: 0, warned: 0, deletions: [], waiting: 0, failed: 0, published: 0 };
    const open = await this.deps.ledger.open();
    const busyRooms = new Set<string>();
    await this.eachConcurrently(open, async (record) => {
      outcome.resumed++;
      const result = await this.driveOne(record, outcome);
      if (result && result.state !== "complete" && result.state !== "stopped") busyRooms.add(record.roomId);
    });
    const plans = await this.plan();
    for (const plan of plans) {
      if (plan.warning && (await this.warn(plan))) outcome.warned++;
    }
    const due = plans.filter((plan) => plan.status === "due" && !busyRooms.has(plan.roomId)).slice(0, this.deps.settings.maxPurgesPerSweep);
    await this.eachConcurrently(due, async (plan) => {
      await this.driveOne(await this.intent(plan, actor), outcome);
    });
    outcome.published = await this.deps.publication.publishChanged(plans);
    return outcome;
  }

  /** A room's records are driven one after another; different rooms side by side. */
  private async eachConcurrently<T extends { roomId: string }>(items: readonly T[], work: (item: T) => Promise<void>): Promise<void> {
    const byRoom = new Map<string, T[]>();
    for (const item of items) byRoom.set(item.roomId, [...(byRoom.get(item.roomId) ?? []), item]);
    const rooms = [...byRoom.values()];
    const lane = async () => {
      for (let room = rooms.shift(); room; room = rooms.shift()) for (const item of room) await work(item);
    };
    await Promise.all(Array.from({ length: Math.max(1, this.deps.settings.purgeConcurrency ?? 1) }, lane));
  }

  /**
   * One room's purge. A room that fails (bot kicked, no power, Synapse refusing) is reported and
   * left open for the next sweep; the other rooms go on. Null: nothing to delete after all.
   */
  private async driveOne(record: PurgeRecord, outcome: SweepOutcome): Promise<PurgeRecord | null> {
    try {
      const result = await this.deps.executor.drive(record);
      if (result?.state === "complete") outcome.deletions.push(result);
      else if (result && result.state !== "stopped") outcome.waiting++;
      return result;
    } catch (error) {
      outcome.failed++;
      await this.reportFailure(record, error);
      return record;
    }
  }

  private async reportFailure(record: PurgeRecord, error: unknown): Promise<void> {
    this.deps.onPurgeFailed(record, error);
    const message = error instanceof Error ? error.message : String(error);
    if (message === record.error) return;
    await this.deps.ledger.update(record.id, { error: message });
    await this.deps.audit.record({
      actor: record.actor,
      action: "retention.purge_failed",
      target: record.roomId,
      details: { deletionId: record.id, policyId: record.policyId, upTo: record.cutoff.toISOString(), error: message },
    });
  }

  private async intent(plan: RoomPlan, actor: string): Promise<PurgeRecord> {
    const policy = plan.policy;
    if (!policy || !plan.cutoff) throw new Error(`room ${plan.roomId} is not due`);
    const facts = await this.deps.facts.roomFacts(this.deps.clock.now(), [plan.roomId]);
    const filing = facts[0]?.filing ?? null;
    const record = plannedPurge({
      id: randomUUID(),
      roomId: plan.roomId,
      policyId: policy.id,
      policyName: policy.name,
      cutoff: plan.cutoff,
      reason: plan.reason,
      actor,
      filingRef: plan.filingRef,
      filedUpTo: filing && plan.filingRef ? filing.upToTs : null,
      includesUnfiled: plan.includesUnfiled,
      createdAt: this.deps.clock.now(),
    });
    // The intent is on record before Synapse hears of it.
    await this.deps.ledger.create(record);
    return record;
  }

  /** Warns a room once per due date that unfiled clinical content will be deleted. */
  private async warn(plan: RoomPlan): Promise<boolean> {
    const warning = plan.warning;
    if (!warning || (await this.deps.warnings.exists(plan.roomId, warning.dueAt))) return false;
    const [facts] = await this.deps.facts.roomFacts(this.deps.clock.now(), [plan.roomId]);
    const after = [facts?.filing?.upToTs ?? null, facts?.warningsCoverUpTo ?? null].reduce<Date | null>(
      (latest, date) => (date && (!latest || date > latest) ? date : latest),
      null,
    );
    const count = await this.deps.facts.countBetween(plan.roomId, after, warning.coversUpTo);
    if (count === 0) return false;
    await this.deps.notifier.postNotice(plan.roomId, warningText(count, warning.dueAt), `retention-warning:${plan.roomId}:${warning.dueAt.toISOString()}`);
    const recorded = await this.deps.warnings.record(plan.roomId, warning, count, this.deps.clock.now());
    if (recorded) {
      await this.deps.audit.record({
        actor: SWEEP_ACTOR,
        action: "retention.warned",
        target: plan.roomId,
        details: { policyId: plan.policy?.id, dueAt: warning.dueAt.toISOString(), coversUpTo: warning.coversUpTo.toISOString(), unfiledEvents: count },
      });
    }
    return recorded;
  }
}
