import type { AuditEvent, AuditRecorder } from "../audit/audit-trail.js";
import type { Clock } from "../clock.js";
import type { MembershipAction } from "./planner.js";
import type { IdentityStore, RunStore } from "./ports.js";

/** One line per action for the audit trail's `action` column. */
export const AUDIT_ACTION: Record<MembershipAction["kind"], string> = {
  "take-room": "directory.room.take",
  invite: "directory.member.invite",
  "force-join": "directory.member.join",
  kick: "directory.member.remove",
  "set-power": "directory.power.set",
  "end-sessions": "directory.leaver.sessions_ended",
  lock: "directory.leaver.locked",
  deactivate: "directory.leaver.deactivated",
};

export interface RunBookkeepingDeps {
  audit: AuditRecorder;
  runs: RunStore;
  identities: IdentityStore;
  clock: Clock;
}

/** A change whose audit entry could not be written. */
interface MissingEntry {
  action: string;
  target: string;
  error: string;
}

/**
 * How many changes' books may be open at once. Past it a lane waits before its next write: the
 * audit chain is one append at a time across processes, and a trail that is stuck or slower
 * than the homeserver must not let a run make the whole plan ahead of it (each open change holds
 * about 2.5 kB; a process that dies then leaves every one of them made and unaudited). A leaver
 * in 100 rooms (102 changes) never reaches it.
 */
export const MAX_OPEN_BOOKS = 256;

/**
 * What a run records about each change once the homeserver has answered: the change's audit
 * entry (never before the homeserver confirmed the change), its outcome row and, for a leaver's
 * account, the identity marks. The write lanes hand each answer over and go on to their next
 * write, so a write slot never waits for the audit chain or a row, unless `MAX_OPEN_BOOKS`
 * changes are waiting for theirs (`room()`). Nothing is lost: `finish()` waits for all of it,
 * and a run whose books are incomplete is not reported clean.
 */
export class RunBookkeeping {
  private readonly open = new Set<Promise<unknown>>();
  /** Lanes waiting in `room()`; one is woken per change whose books are done. */
  private readonly waiting: (() => void)[] = [];
  private readonly problems: string[] = [];
  private readonly missing: MissingEntry[] = [];

  constructor(
    private readonly runId: number,
    private readonly actor: string,
    private readonly deps: RunBookkeepingDeps,
  ) {}

  /** Resolves once fewer than `MAX_OPEN_BOOKS` changes are waiting for their books. */
  async room(): Promise<void> {
    while (this.open.size >= MAX_OPEN_BOOKS) await new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  /** The homeserver made the change at `index` of the run. */
  made(index: number, action: MembershipAction): void {
    this.track(this.recordMade(index, action));
  }

  /** The change at `index` was not made: the homeserver refused it, or it was not tried. */
  notMade(index: number, action: MembershipAction, why: string): void {
    this.track(this.attempt(action, "its outcome row could not be written", () => this.deps.runs.setOutcome(this.runId, index, "failed", why)));
  }

  /**
   * Waits for everything handed over so far. Audit entries that could not be written are named in
   * one more entry, so the trail itself shows its gap (if the trail takes it). Returns what could
   * not be recorded, one line per problem; empty when the books are complete.
   */
  async finish(): Promise<string[]> {
    while (this.open.size > 0) await Promise.allSettled([...this.open]);
    if (this.missing.length > 0) {
      const entry: AuditEvent = {
        actor: this.actor,
        action: "directory.run.unaudited",
        target: `run ${this.runId}`,
        details: { run: this.runId, missing: this.missing },
      };
      const error = await failureOf(() => this.deps.audit.record(entry));
      if (error !== null) this.problems.push(`run ${this.runId}: the entry naming the missing audit entries could not be written either (${error})`);
    }
    return [...this.problems];
  }

  private async recordMade(index: number, action: MembershipAction): Promise<void> {
    const { audit, runs, identities, clock } = this.deps;
    const entry = auditEvent(action, this.runId, this.actor);
    // The row goes beside the entry, not behind it: the guard's window counts done rows, and the
    // audit chain is one append at a time across processes. A process that dies (lease lost) with
    // its trail behind must still leave every removal it made counted.
    const [unaudited, unstored] = await Promise.all([
      this.attempt(action, "its audit entry could not be written", () => audit.record(entry)),
      failureOf(() => runs.setOutcome(this.runId, index, "done", null)),
    ]);
    if (unaudited !== null) this.missing.push({ action: entry.action, target: entry.target, error: unaudited });
    if (unaudited !== null || unstored !== null) {
      // Done whatever the audit said: the homeserver made the change. The row again, with the note.
      const note = unaudited === null ? null : `made, but its audit entry could not be written (${unaudited})`;
      await this.attempt(action, "its outcome row could not be written", () => runs.setOutcome(this.runId, index, "done", note));
    }
    if (action.kind === "end-sessions") {
      await this.attempt(action, "the end of the sessions could not be stored", () => identities.markSessionsEnded(action.userId, clock.now()));
    }
    if (action.kind === "lock" || action.kind === "deactivate") {
      await this.attempt(action, "the closed account could not be stored", () => identities.markClosed(action.userId, clock.now()));
    }
  }

  /** Keeps a change's books open until they are done; settled ones are let go, not kept to the end. */
  private track(books: Promise<unknown>): void {
    this.open.add(books);
    const done = () => {
      this.open.delete(books);
      this.waiting.shift()?.();
    };
    books.then(done, (error: unknown) => {
      // attempt() turns every store failure into a problem; this is the rest (a bug), kept too.
      this.problems.push(`run ${this.runId}: bookkeeping failed (${error instanceof Error ? error.message : String(error)})`);
      done();
    });
  }

  /** Runs one piece of bookkeeping; a failure is kept as a problem and returned, never thrown. */
  private async attempt(action: MembershipAction, what: string, work: () => Promise<void>): Promise<string | null> {
    const error = await failureOf(work);
    if (error !== null) this.problems.push(`${action.kind} ${target(action)}: ${what} (${error})`);
    return error;
  }
}

async function failureOf(work: () => Promise<void>): Promise<string | null> {
  try {
    await work();
    return null;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

function auditEvent(action: MembershipAction, runId: number, actor: string): AuditEvent {
  return { actor, action: AUDIT_ACTION[action.kind], target: target(action), details: details(action, runId) };
}

export function target(action: MembershipAction): string {
  if ("userId" in action) return "roomId" in action ? `${action.userId} in ${action.roomId}` : action.userId;
  return action.roomId;
}

function details(action: MembershipAction, runId: number): Record<string, unknown> {
  const base = { run: runId };
  switch (action.kind) {
    case "invite":
    case "force-join":
      return {
        ...base,
        room: action.roomId,
        user: action.userId,
        rules: action.reasons.map((r) => r.rule),
        sources: unique(action.reasons.map((r) => r.source)),
      };
    case "kick":
      return { ...base, room: action.roomId, user: action.userId, why: action.why };
    case "set-power":
      return {
        ...base,
        room: action.roomId,
        changes: action.changes.map((change) => ({ user: change.userId, from: change.from, to: change.to, rules: change.reasons.map((r) => r.rule) })),
      };
    case "take-room":
      return { ...base, room: action.roomId };
    default:
      return { ...base, user: action.userId, why: action.why };
  }
}

function unique(values: string[]): string[] {
  return [...new Set(values)];
}
