import type pg from "pg";
import type { DataSource } from "typeorm";
import type { PostgresDriver } from "typeorm/driver/postgres/PostgresDriver.js";
import { formatDuration } from "../config/duration.js";
import type { JobPoolReservation } from "./job-scheduler.js";

const SAMPLE_EVERY_MS = 1_000;

/**
 * The connection pool behind Handover's DataSource: sized from the periodic jobs that share it,
 * and watched so that /readyz can say when it has been exhausted for too long.
 *
 * `database.poolSize` connections serve requests, transactions and the event pump; each job
 * registered with the scheduler adds one, so that all jobs running at once still leave the
 * configured number for everything else.
 */
export interface DatabasePoolOptions {
  /** `database.poolSize`: connections for everything but the jobs. */
  baseSize: number;
  /** `database.poolExhaustedAfter`. */
  exhaustedAfterMs: number;
  now?: () => number;
}

export class DatabasePool implements JobPoolReservation {
  private reserved = 0;
  private exhaustedSince: number | null = null;
  private timer: NodeJS.Timeout | null = null;
  private readonly now: () => number;

  constructor(
    private readonly db: DataSource,
    private readonly options: DatabasePoolOptions,
  ) {
    this.now = options.now ?? Date.now;
  }

  get size(): number {
    return this.options.baseSize + this.reserved;
  }

  reserveForJob(): void {
    this.reserved++;
    // Before initialize() the pool is made from the options; afterwards pg-pool reads `max`
    // on every checkout, so raising it takes effect at once.
    const extra = (this.db.options as { extra?: { max?: number } }).extra;
    if (extra) extra.max = this.size;
    const pool = this.pgPool();
    if (pool) (pool.options as { max: number }).max = this.size;
  }

  start(): void {
    this.timer = setInterval(() => this.sample(), SAMPLE_EVERY_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** How long callers have been waiting for a connection without a break; 0 when none waits. */
  exhaustedForMs(): number {
    this.sample();
    return this.exhaustedSince === null ? 0 : this.now() - this.exhaustedSince;
  }

  /** For /readyz: what is wrong with the pool, or null. */
  problem(): string | null {
    return this.exhaustedForMs() > this.options.exhaustedAfterMs ? `database pool exhausted for > ${formatDuration(this.options.exhaustedAfterMs)}` : null;
  }

  /**
   * For /readyz: whether the database answers `SELECT 1`. The query waits in the pool's queue
   * with everyone else, so it is given up after `exhaustedAfter` rather than hanging the probe.
   */
  async answers(): Promise<boolean> {
    if (this.problem()) return false;
    let timer: NodeJS.Timeout | undefined;
    const givenUp = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), this.options.exhaustedAfterMs);
    });
    const answered = this.db.query("SELECT 1").then(
      () => true,
      () => false,
    );
    try {
      return await Promise.race([answered, givenUp]);
    } finally {
      clearTimeout(timer);
    }
  }

  private sample(): void {
    const waiting = this.pgPool()?.waitingCount ?? 0;
    if (waiting === 0) this.exhaustedSince = null;
    else this.exhaustedSince ??= this.now();
  }

  private pgPool(): pg.Pool | null {
    if (!this.db.isInitialized) return null;
    return ((this.db.driver as PostgresDriver).master as pg.Pool | undefined) ?? null;
  }
}
