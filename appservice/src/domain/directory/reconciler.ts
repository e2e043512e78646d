import { createHash } from "node:crypto";
import type { AuditRecorder } from "../audit/audit-trail.js";
import type { Clock } from "../clock.js";
import { HandoverError } from "../errors.js";
import { type DesiredState, desiredState } from "./desired.js";
import type { ActionExecutor } from "./executor.js";
import { checkRemovals, type GuardLimits, NO_RECENT_REMOVALS } from "./guard.js";
import type { IdentityTemplate } from "./identity.js";
import { DirectoryAnswerRefused, type DirectorySnapshot, type DirectorySource, type SyncRule } from "./model.js";
import { type ActualRoom, type MembershipAction, type MembershipPlan, newLeavers, type PlanOptions, planMembership } from "./planner.js";
import type { IdentityStore, MembershipReader, RuleStore, RunStatus, RunStore, RunSummary, RunTrigger } from "./ports.js";
import { RunBookkeeping } from "./run-bookkeeping.js";
import { runLanes, writeLanes } from "./write-lanes.js";

export interface DirectorySyncDeps {
  sources: readonly DirectorySource[];
  rules: RuleStore;
  identity: IdentityTemplate;
  reader: MembershipReader;
  executor: ActionExecutor;
  runs: RunStore;
  identities: IdentityStore;
  audit: AuditRecorder;
  clock: Clock;
  guard: GuardLimits;
  plan: Omit<PlanOptions, "now">;
}

export interface RunResult {
  runId: number | null;
  status: RunStatus | "noop" | "dry-run";
  reason: string | null;
  summary: RunSummary;
  actions: MembershipAction[];
}

/**
 * How many rooms are read from the homeserver at once: a room's state is a cached read for
 * Synapse, and a push's run reads every managed room before it can plan (100 rooms: 0.2 s at 4).
 */
const READ_CONCURRENCY = 8;
const SYSTEM_ACTOR = "handover:directory";

/**
 * Directory sync, end to end: ask every source, compute desired membership from the rules,
 * read actual membership of the managed rooms, plan the difference, hold it if it removes too
 * many, otherwise apply it. A run with nothing to change writes nothing, anywhere. Re-planning
 * against the homeserver makes a run that was cut short converge without repeating itself.
 */
export class DirectorySync {
  constructor(private readonly deps: DirectorySyncDeps) {}

  /**
   * `rules` replaces the stored rules, for previewing a draft; `replace` replaces one source's
   * answer (a CSV file not yet imported); both only with dryRun.
   */
  async run(options: { trigger: RunTrigger; actor?: string; dryRun?: boolean; rules?: SyncRule[]; replace?: DirectorySnapshot }): Promise<RunResult> {
    const actor = options.actor ?? SYSTEM_ACTOR;
    const { runs, audit } = this.deps;
    let snapshots: DirectorySnapshot[];
    try {
      snapshots = await this.snapshots(options.dryRun ? options.replace : undefined);
    } catch (error) {
      if (!(error instanceof DirectoryAnswerRefused)) throw error;
      const summary = emptySummary();
      if (options.dryRun) return { runId: null, status: "refused", reason: error.message, summary, actions: [] };
      const runId = await runs.create(
        { trigger: options.trigger, actor, status: "refused", startedAt: this.deps.clock.now(), reason: error.message, fingerprint: "", summary },
        [],
      );
      await audit.record({ actor, action: "directory.run.refused", target: `run ${runId}`, details: { run: runId, source: error.source, why: error.reason } });
      return { runId, status: "refused", reason: error.message, summary, actions: [] };
    }
    const prepared = await this.prepare(snapshots, options.dryRun ? options.rules : undefined);
    const { plan, summary } = prepared;
    if (options.dryRun) return { runId: null, status: "dry-run", reason: null, summary, actions: plan.actions };
    if (plan.actions.length === 0) {
      // Identity bookkeeping only changes when someone joins or leaves the directory.
      await this.recordIdentities(prepared);
      return { runId: null, status: "noop", reason: null, summary, actions: [] };
    }
    const { guard } = this.deps;
    const recent = guard.windowMs > 0 ? await runs.removedSince(new Date(prepared.now.getTime() - guard.windowMs)) : NO_RECENT_REMOVALS;
    // The base is who was known before this answer: newcomers it brings must not dilute what it removes.
    const verdict = checkRemovals(plan, { knownPeople: prepared.previouslyActive, recent }, guard);
    const fingerprint = fingerprintOf(plan.actions);
    if (verdict.held) return this.hold(options.trigger, actor, verdict.reason, fingerprint, plan, summary);
    const runId = await runs.create(
      { trigger: options.trigger, actor, status: "applying", startedAt: this.deps.clock.now(), reason: null, fingerprint, summary },
      plan.actions,
    );
    await this.recordIdentities(prepared);
    return this.apply(runId, actor, plan.actions, summary);
  }

  /**
   * An approval is for the plan the admin was shown, and applies exactly that. The directory and
   * the rooms are read again first: if the plan they give now differs in any change (one more
   * leaver, one fewer kick, another power level), nothing is applied and a new run must be
   * reviewed, so an approval can never carry changes nobody saw.
   */
  async approve(runId: number, actor: string): Promise<RunResult> {
    const held = await this.heldRun(runId);
    const snapshots = await this.snapshots().catch((error: unknown) => {
      if (error instanceof DirectoryAnswerRefused) throw new HandoverError("CONFLICT", `The directory answer is refused now: ${error.message}`);
      throw error;
    });
    const prepared = await this.prepare(snapshots);
    if (fingerprintOf(prepared.plan.actions) !== held.fingerprint) {
      throw new HandoverError(
        "CONFLICT",
        `The directory or the rooms changed since run ${runId} was held: the plan now has ${prepared.plan.actions.length} changes (${prepared.plan.removals} removals), not the ${held.summary.removals} removals shown. Run again and review the new plan.`,
      );
    }
    const shown = (await this.deps.runs.actions(runId)).map((item) => item.action);
    await this.deps.runs.setStatus(runId, "applying", { decidedBy: actor });
    await this.deps.audit.record({
      actor,
      action: "directory.run.approved",
      target: `run ${runId}`,
      details: { run: runId, removals: held.summary.removals, plan: held.fingerprint },
    });
    await this.recordIdentities(prepared);
    return this.apply(runId, SYSTEM_ACTOR, shown, held.summary);
  }

  async reject(runId: number, actor: string, reason: string): Promise<void> {
    await this.heldRun(runId);
    await this.deps.runs.setStatus(runId, "rejected", { decidedBy: actor, reason, finished: this.deps.clock.now() });
    await this.deps.audit.record({ actor, action: "directory.run.rejected", target: `run ${runId}`, details: { run: runId, reason } });
  }

  /** Runs a process left half-applied when it died; the next run converges from the homeserver. */
  async recoverInterrupted(): Promise<number[]> {
    const ids = await this.deps.runs.interruptApplying();
    for (const id of ids) {
      await this.deps.audit.record({ actor: SYSTEM_ACTOR, action: "directory.run.interrupted", target: `run ${id}`, details: { run: id } });
    }
    return ids;
  }

  /** Desired state from the sources now: for previews and "why is this person in this room". */
  async desired(): Promise<DesiredState> {
    return desiredState(await this.snapshots(), await this.deps.rules.list(), this.deps.identity);
  }

  private async heldRun(runId: number) {
    const run = await this.deps.runs.get(runId);
    if (!run) throw new HandoverError("NOT_FOUND", `No directory sync run ${runId}`);
    if (run.status !== "held") throw new HandoverError("CONFLICT", `Run ${runId} is ${run.status}, not held`);
    return run;
  }

  private async snapshots(replace?: DirectorySnapshot): Promise<DirectorySnapshot[]> {
    if (this.deps.sources.length === 0) throw new DirectoryAnswerRefused("(none)", "empty", "No directory sources are configured");
    const snapshots: DirectorySnapshot[] = [];
    for (const source of this.deps.sources) {
      let snapshot: DirectorySnapshot;
      try {
        snapshot = replace?.source === source.name ? replace : await source.snapshot();
      } catch (error) {
        if (error instanceof DirectoryAnswerRefused) throw error;
        throw new DirectoryAnswerRefused(source.name, "error", `Source ${source.name} failed: ${error instanceof Error ? error.message : String(error)}`);
      }
      if (snapshot.people.length === 0) throw new DirectoryAnswerRefused(source.name, "empty", `Source ${source.name} answered with nobody in it`);
      snapshots.push(snapshot);
    }
    return snapshots;
  }

  private async prepare(snapshots: DirectorySnapshot[], rules?: SyncRule[]) {
    const now = this.deps.clock.now();
    const desired = desiredState(snapshots, rules ?? (await this.deps.rules.list()), this.deps.identity);
    const previouslyActive = await this.deps.identities.active();
    const known = await this.deps.identities.leavers();
    const knownLeft = new Set(known.map((leaver) => leaver.userId));
    const newlyLeft = newLeavers(desired, previouslyActive).filter((userId) => !knownLeft.has(userId));
    const returned = known.filter((leaver) => desired.people.has(leaver.userId)).map((leaver) => leaver.userId);
    const activeSet = new Set(previouslyActive);
    const newlyActive = [...desired.people.keys()].filter((userId) => !activeSet.has(userId));
    const leavers = [
      ...known.filter((leaver) => !desired.people.has(leaver.userId)),
      ...newlyLeft.map((userId) => ({ userId, leftAt: now, sessionsEnded: false, accountClosed: false })),
    ];
    const actual = await this.readRooms([...desired.rooms.keys()]);
    const plan = planMembership(desired, actual, leavers, { ...this.deps.plan, now });
    return { plan, newlyLeft, returned, newlyActive, previouslyActive, summary: summarise(desired, plan), now };
  }

  private async readRooms(roomIds: string[]): Promise<Map<string, ActualRoom>> {
    const rooms = new Map<string, ActualRoom>();
    let next = 0;
    const worker = async () => {
      while (next < roomIds.length) {
        const roomId = roomIds[next++] as string;
        const room = await this.deps.reader.readRoom(roomId);
        if (room) rooms.set(roomId, room);
      }
    };
    await Promise.all(Array.from({ length: Math.min(READ_CONCURRENCY, roomIds.length) }, worker));
    return rooms;
  }

  private async recordIdentities(prepared: { newlyLeft: string[]; returned: string[]; newlyActive: string[]; now: Date }): Promise<void> {
    const { identities } = this.deps;
    if (prepared.newlyActive.length > 0) await identities.markActive(prepared.newlyActive);
    if (prepared.newlyLeft.length > 0) await identities.markLeft(prepared.newlyLeft, prepared.now);
  }

  private async hold(trigger: RunTrigger, actor: string, reason: string, fingerprint: string, plan: MembershipPlan, summary: RunSummary): Promise<RunResult> {
    const { runs, audit, clock } = this.deps;
    const open = await runs.openHeld();
    if (open && open.fingerprint === fingerprint) return { runId: open.id, status: "held", reason: open.reason, summary: open.summary, actions: plan.actions };
    if (open) await runs.setStatus(open.id, "superseded", { finished: clock.now() });
    const runId = await runs.create({ trigger, actor, status: "held", startedAt: clock.now(), reason, fingerprint, summary }, plan.actions);
    await audit.record({
      actor,
      action: "directory.run.held",
      target: `run ${runId}`,
      details: { run: runId, removals: plan.removals, managed: plan.managedMemberships },
    });
    return { runId, status: "held", reason, summary, actions: plan.actions };
  }

  /**
   * Applies the actions lane by lane (one lane per room, one per person), lanes side by side as
   * far as the executor's in-flight limit allows. A lane goes on to its next write as soon as the
   * homeserver has answered; each answer's bookkeeping (audit entry, outcome row, identity marks)
   * goes on beside the writes (never more than `MAX_OPEN_BOOKS` changes ahead of it), and the run
   * ends once all of it is done. A room the bot could not
   * take fails the rest of its lane only; a change made but not fully recorded makes the run
   * partial, with what is missing as its reason.
   */
  private async apply(runId: number, actor: string, actions: MembershipAction[], summary: RunSummary): Promise<RunResult> {
    const { runs, executor, audit, identities, clock } = this.deps;
    const books = new RunBookkeeping(runId, actor, { audit, runs, identities, clock });
    let applied = 0;
    let failed = 0;
    await runLanes(writeLanes(actions), executor.inFlight, async (lane) => {
      let roomTaken = true;
      for (const { index, action } of lane) {
        await books.room();
        if (!roomTaken) {
          books.notMade(index, action, "the bot could not take this room");
          failed++;
          continue;
        }
        try {
          await executor.write(action);
        } catch (error) {
          if (action.kind === "take-room") roomTaken = false;
          books.notMade(index, action, error instanceof Error ? error.message : String(error));
          failed++;
          continue;
        }
        books.made(index, action);
        applied++;
      }
    });
    const unrecorded = await books.finish();
    const status: RunStatus = failed === 0 && unrecorded.length === 0 ? "applied" : "partial";
    const reason = unrecorded.length === 0 ? null : unrecordedReason(unrecorded);
    const finalSummary = { ...summary, applied, failed };
    await runs.setStatus(runId, status, { summary: finalSummary, finished: clock.now(), ...(reason === null ? {} : { reason }) });
    return { runId, status, reason, summary: finalSummary, actions };
  }
}

/** The first few problems in full; the rest counted. */
function unrecordedReason(problems: readonly string[]): string {
  const shown = problems.slice(0, 3).join("; ");
  const more = problems.length > 3 ? `; and ${problems.length - 3} more` : "";
  return `Changes made on the homeserver are not fully recorded: ${shown}${more}`;
}

export function emptySummary(): RunSummary {
  return {
    people: 0,
    rooms: 0,
    managedMemberships: 0,
    removals: 0,
    additions: 0,
    powerChanges: 0,
    leaverSteps: 0,
    unreadableRooms: [],
    unmapped: 0,
    applied: 0,
    failed: 0,
  };
}

function summarise(desired: DesiredState, plan: MembershipPlan): RunSummary {
  const count = (kinds: MembershipAction["kind"][]) => plan.actions.filter((action) => kinds.includes(action.kind)).length;
  return {
    people: desired.people.size,
    rooms: desired.rooms.size,
    managedMemberships: plan.managedMemberships,
    removals: plan.removals,
    additions: count(["invite", "force-join"]),
    powerChanges: count(["set-power"]),
    leaverSteps: count(["end-sessions", "lock", "deactivate"]),
    unreadableRooms: plan.unreadableRooms,
    unmapped: desired.unmapped,
    applied: 0,
    failed: 0,
  };
}

/**
 * The identity of a plan: every change it makes (kind, room, person, why, power levels from and
 * to), in any order. A held run keeps it; the same plan held again is not recorded twice, and an
 * approval applies only a plan with the same fingerprint. Reasons are explanation, not change,
 * and are left out.
 */
export function fingerprintOf(actions: readonly MembershipAction[]): string {
  const changes = actions.map((action) => {
    switch (action.kind) {
      case "take-room":
        return [action.kind, action.roomId];
      case "invite":
      case "force-join":
        return [action.kind, action.roomId, action.userId];
      case "kick":
        return [action.kind, action.roomId, action.userId, action.why];
      case "set-power":
        return [action.kind, action.roomId, ...action.changes.map((change) => `${change.userId} ${change.from}>${change.to}`).sort()];
      default:
        return [action.kind, action.userId, action.why];
    }
  });
  const text = changes
    .map((change) => JSON.stringify(change))
    .sort()
    .join("\n");
  return `sha256:${createHash("sha256").update(text).digest("hex")}`;
}
