import type { Clock } from "../clock.js";
import { HandoverError } from "../errors.js";
import type { MembershipAction } from "./planner.js";
import type { AccountControl, MembershipWriter } from "./ports.js";
import { AdaptiveWriteLimit } from "./write-lanes.js";

export interface ExecutorOptions {
  /** Homeserver writes per second at most. */
  writesPerSecond: number;
  /** Attempts per write when the homeserver is unreachable or rate-limits us. */
  attempts: number;
  wait(ms: number): Promise<void>;
  /** Writes in flight at most (the limit adapts below it to the homeserver's answers); default 1. */
  maxInFlight?: number;
  /** An answer slower than this halves the writes in flight (default 2 s). */
  slowMs?: number;
}

const RETRYABLE = /M_LIMIT_EXCEEDED|\b429\b|\b5\d\d\b/;

function retryable(error: unknown): boolean {
  if (!(error instanceof HandoverError)) return false;
  return error.code === "HOMESERVER_UNAVAILABLE" || (error.code === "HOMESERVER_REFUSED" && RETRYABLE.test(error.message));
}

/**
 * Makes a plan's changes on the homeserver, at most `writesPerSecond` and as many at a time as the
 * homeserver's answers allow (`inFlight`), retrying what can be retried with backoff. Recording
 * them (audit entry, outcome row) is the run's bookkeeping, not a write's (run-bookkeeping.ts).
 */
export class ActionExecutor {
  private nextSlot = 0;
  /** How many writes the run may have in flight now; read by the run between lanes. */
  readonly inFlight: AdaptiveWriteLimit;

  constructor(
    private readonly writer: MembershipWriter,
    private readonly accounts: AccountControl,
    private readonly clock: Clock,
    private readonly options: ExecutorOptions,
  ) {
    this.inFlight = new AdaptiveWriteLimit(options.maxInFlight ?? 1, options.slowMs ?? 2_000);
  }

  /** Makes one change; resolves once the homeserver has confirmed it, rejects once it gave up. */
  async write(action: MembershipAction): Promise<void> {
    await this.withRetries(() => this.request(action));
  }

  private async throttle(): Promise<void> {
    const gap = 1000 / this.options.writesPerSecond;
    const now = this.clock.now().getTime();
    const slot = Math.max(now, this.nextSlot);
    this.nextSlot = slot + gap;
    if (slot > now) await this.options.wait(slot - now);
  }

  private async withRetries(request: () => Promise<void>): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      await this.throttle();
      const started = performance.now();
      try {
        await request();
        this.inFlight.answered(performance.now() - started);
        return;
      } catch (error) {
        if (retryable(error)) this.inFlight.backOff();
        if (attempt >= this.options.attempts || !retryable(error)) throw error;
        await this.options.wait(Math.min(30_000, 500 * 2 ** (attempt - 1)));
      }
    }
  }

  private async request(action: MembershipAction): Promise<void> {
    switch (action.kind) {
      case "take-room":
        return this.writer.takeRoom(action.roomId);
      case "invite":
        return this.writer.invite(action.roomId, action.userId, reasonText(action));
      case "force-join":
        return this.writer.forceJoin(action.roomId, action.userId);
      case "kick":
        return this.writer.kick(action.roomId, action.userId, reasonText(action));
      case "set-power":
        return this.writer.setUserLevels(
          action.roomId,
          action.changes.map((change) => ({ userId: change.userId, level: change.to })),
        );
      case "end-sessions":
        await this.accounts.endSessions(action.userId);
        return;
      case "lock":
        return this.accounts.lock(action.userId);
      case "deactivate":
        return this.accounts.deactivate(action.userId);
    }
  }
}

function unique(values: string[]): string[] {
  return [...new Set(values)];
}

/** The reason shown to people in the room's timeline. */
export function reasonText(action: MembershipAction): string {
  switch (action.kind) {
    case "invite":
    case "force-join":
      return `Directory sync: rule ${unique(action.reasons.map((r) => r.rule)).join(", ")}`;
    case "kick":
      return action.why === "leaver"
        ? "Directory sync: account disabled in the staff directory"
        : action.why === "no-matching-rule"
          ? "Directory sync: no longer in a directory group for this room"
          : "Directory sync: not in the staff directory";
    default:
      return "Directory sync";
  }
}
