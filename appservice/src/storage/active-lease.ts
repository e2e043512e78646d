import { createHash } from "node:crypto";
import pg from "pg";
import type { Logger } from "pino";

export interface ActiveLeaseOptions {
  /** The database Handover runs on. */
  url: string;
  /** Names what is led: one trust's appservice (its registration id and homeserver). */
  scope: string;
  logger: Logger;
  /** How often a standby asks whether the active process has gone. */
  retryMs?: number;
  /** How often the active process checks that it still holds the lease. */
  checkMs?: number;
  /** How long a check may take before the lease counts as lost. */
  checkTimeoutMs?: number;
}

/**
 * Which of a trust's Handover processes is active (docs/install.md, "Large trusts"): the one
 * holding a PostgreSQL session advisory lock named after the trust's appservice. The lock lives
 * on a connection of the lease's own; when the active process dies, even by kill -9, the kernel
 * closes that connection and PostgreSQL releases the lock at once, so a standby asking every
 * `retryMs` takes over within about a second.
 *
 * A process that can no longer show it holds the lock (its connection broke, or a check timed
 * out) must stop acting at once: another may already be active. `onLost` is told; Handover's
 * default is to exit, so the service manager starts it again as a standby.
 */
export class ActiveLease {
  private client: pg.Client | null = null;
  private checking: NodeJS.Timeout | null = null;
  private lost: ((reason: Error) => void) | null = null;
  private stopped = false;
  private readonly key: string;

  constructor(private readonly options: ActiveLeaseOptions) {
    this.key = createHash("sha256").update(`handover-active:${options.scope}`).digest().readBigInt64BE(0).toString();
  }

  /** True at once when no other process holds the lease, without waiting. */
  async tryAcquire(): Promise<boolean> {
    // Bounded like the active's check: a connection gone silent (the database host vanished
    // without closing it) would otherwise keep a standby waiting on it for many minutes.
    const timeoutMs = this.options.checkTimeoutMs ?? 5_000;
    const client = await this.connection();
    const { rows } = await this.bounded(
      client.query<{ locked: boolean }>("SELECT pg_try_advisory_lock($1) AS locked", [this.key]),
      timeoutMs,
      "asking for the lease",
    );
    return rows[0]?.locked === true;
  }

  /**
   * Waits until this process holds the lease. `waiting` is called once if another holds it now
   * (the caller becomes a standby). Connection failures while waiting are retried: a standby
   * outlives a database restart.
   */
  async acquire(waiting?: () => void): Promise<void> {
    const retryMs = this.options.retryMs ?? 1_000;
    let told = false;
    while (!this.stopped) {
      try {
        if (await this.tryAcquire()) {
          if (!this.stopped) return;
          // release() came while the lock was being asked for (a standby stopped as it
          // connected): give back what was granted, or a stopped process keeps the lease.
          await this.dropConnection();
          break;
        }
        if (!told) {
          told = true;
          waiting?.();
        }
      } catch (error) {
        this.options.logger.warn({ err: error }, "standby: could not ask the database who is active; trying again");
        await this.dropConnection();
      }
      await new Promise((resolve) => setTimeout(resolve, retryMs));
    }
    throw new Error("stopped while waiting to become active");
  }

  /** Checks every `checkMs` that the lease is still held; `onLost` once if it is not. */
  watch(onLost: (reason: Error) => void): void {
    this.lost = onLost;
    const checkMs = this.options.checkMs ?? 2_000;
    const timeoutMs = this.options.checkTimeoutMs ?? 5_000;
    this.checking = setInterval(() => {
      void this.stillHeld(timeoutMs).then(
        (held) => {
          if (!held) this.loseLease(new Error("the active lease is no longer held by this process"));
        },
        (error: unknown) => this.loseLease(error instanceof Error ? error : new Error(String(error))),
      );
    }, checkMs);
    this.checking.unref();
  }

  /** Stops checking (a clean stop has begun); the lease is still held until release(). */
  unwatch(): void {
    if (this.checking) clearInterval(this.checking);
    this.checking = null;
    this.lost = null;
  }

  /** Gives the lease up (a clean stop): a standby takes over at its next ask. */
  async release(): Promise<void> {
    this.stopped = true;
    this.unwatch();
    await this.dropConnection();
  }

  private async stillHeld(timeoutMs: number): Promise<boolean> {
    const client = this.client;
    if (!client) return false;
    // Held by this very session: pg_locks shows the advisory lock with our backend's pid.
    const check = client.query<{ held: boolean }>(
      `SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1 AND pid = pg_backend_pid()
         AND ((classid::bigint << 32) | objid::bigint) = $1::bigint) AS held`,
      [this.key],
    );
    const { rows } = await this.bounded(check, timeoutMs, "the lease check");
    return rows[0]?.held === true;
  }

  private async bounded<T>(work: Promise<T>, timeoutMs: number, what: string): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} took longer than ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      return await Promise.race([work, timedOut]);
    } finally {
      clearTimeout(timer);
    }
  }

  private loseLease(reason: Error): void {
    const onLost = this.lost;
    if (!onLost) return;
    this.lost = null;
    if (this.checking) clearInterval(this.checking);
    this.checking = null;
    onLost(reason);
  }

  private async connection(): Promise<pg.Client> {
    if (this.client) return this.client;
    const client = new pg.Client({
      connectionString: this.options.url,
      application_name: "handover-active-lease",
      // A peer that vanished without closing (a network cut) is noticed in seconds, not hours.
      keepAlive: true,
      keepAliveInitialDelayMillis: 5_000,
      connectionTimeoutMillis: this.options.checkTimeoutMs ?? 5_000,
    });
    client.on("error", (error) => {
      this.options.logger.warn({ err: error }, "the active lease's database connection failed");
      if (this.client === client) this.client = null;
      this.loseLease(error);
    });
    await client.connect();
    this.client = client;
    return client;
  }

  private async dropConnection(): Promise<void> {
    const client = this.client;
    this.client = null;
    if (!client) return;
    // A silent connection never confirms its end: stop waiting, the lock goes with the session.
    await this.bounded(client.end(), this.options.checkTimeoutMs ?? 5_000, "closing the lease connection").catch(() => undefined);
  }
}
