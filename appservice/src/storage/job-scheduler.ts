import { createHash } from "node:crypto";
import pg from "pg";
import type { Logger } from "pino";
import type { DataSource } from "typeorm";
import type { PostgresConnectionOptions } from "typeorm/driver/postgres/PostgresConnectionOptions.js";
import { SerialQueue } from "../domain/serial-queue.js";

export interface JobOptions {
  /** Stable name: also the lock that keeps two processes from running the job at once. */
  name: string;
  intervalMs: number;
  /** Run once straight after start() too. */
  runAtStart?: boolean;
}

/** What runExclusive did: ran the work (and what it returned), or found the job running already. */
export type ExclusiveRun<T> = { ran: true; value: T } | { ran: false };

/** Told of every job registered, so the pool can keep a connection for each (database-pool.ts). */
export interface JobPoolReservation {
  reserveForJob(): void;
}

function lockKey(name: string): string {
  return createHash("sha256").update(`handover-job:${name}`).digest().readBigInt64BE(0).toString();
}

/**
 * Runs periodic jobs. Each run holds a session-level advisory lock named after the job, so
 * with several Handover processes on one database a job runs in one of them at a time; the
 * others skip that tick. A lock dies with its connection, so a crashed process never blocks
 * the job.
 *
 * The locks live on one connection of the scheduler's own, outside the pool. Holding a pooled
 * connection for the lock while the job asked the pool for another deadlocked a trust once:
 * five running jobs held all five pooled connections "idle in transaction" and each waited
 * for a sixth. A job now holds no pooled connection of the scheduler's while it runs.
 */
export class JobScheduler {
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly jobs: (JobOptions & { task: () => Promise<void> })[] = [];
  private readonly running = new Set<Promise<unknown>>();
  /** Jobs running in this process: a session lock is re-entrant, so the lock alone would let a tick overlap the run before it. */
  private readonly active = new Set<string>();
  private lockConnection: Promise<pg.Client> | null = null;
  /** One query at a time on the lock connection: pg deprecates (and pg 9 refuses) overlapping queries on one client. */
  private readonly lockQueries = new SerialQueue();
  private started = false;

  constructor(
    private readonly db: DataSource,
    private readonly logger: Logger,
    private readonly pool?: JobPoolReservation,
  ) {}

  register(options: JobOptions, task: () => Promise<void>): void {
    this.jobs.push({ ...options, task });
    this.pool?.reserveForJob();
    if (this.started) this.schedule(this.jobs[this.jobs.length - 1] as JobOptions & { task: () => Promise<void> });
  }

  /** How many jobs are registered: the pool keeps a connection for each. */
  get count(): number {
    return this.jobs.length;
  }

  /** Runs the job now (if no other process is running it); true when it ran. */
  async runNow(name: string): Promise<boolean> {
    const job = this.jobs.find((candidate) => candidate.name === name);
    if (!job) throw new Error(`no job named ${name}`);
    return (await this.runExclusive(job.name, job.task)).ran;
  }

  /**
   * Runs `work` in place of the job's own task, under the job's lock: never beside a run of the
   * job in this or another Handover process. When the job is running already, nothing runs and
   * the answer is `{ ran: false }` at once; the caller decides whether to wait and try again.
   * The job need not be registered in this process.
   */
  async runExclusive<T>(name: string, work: () => Promise<T>): Promise<ExclusiveRun<T>> {
    if (this.active.has(name)) return { ran: false };
    this.active.add(name);
    try {
      const key = lockKey(name);
      const [row] = (await this.lockQuery("SELECT pg_try_advisory_lock($1) AS locked", [key])).rows as { locked: boolean }[];
      if (!row?.locked) return { ran: false };
      try {
        return { ran: true, value: await work() };
      } finally {
        // The lock connection may have died during the run; its locks died with it.
        await this.lockQuery("SELECT pg_advisory_unlock($1)", [key]).catch((error: unknown) => {
          this.logger.warn({ err: error, job: name }, "could not release the job lock");
        });
      }
    } finally {
      this.active.delete(name);
    }
  }

  start(): void {
    this.started = true;
    for (const job of this.jobs) this.schedule(job);
  }

  async stop(): Promise<void> {
    this.started = false;
    for (const timer of this.timers.splice(0)) clearInterval(timer);
    await Promise.allSettled([...this.running]);
    const connection = this.lockConnection;
    this.lockConnection = null;
    if (connection) await connection.then((client) => client.end()).catch(() => undefined);
  }

  private schedule(job: JobOptions & { task: () => Promise<void> }): void {
    const tick = () => {
      const run = this.runExclusive(job.name, job.task).catch((error: unknown) => this.logger.error({ err: error, job: job.name }, "job failed"));
      this.running.add(run);
      void run.finally(() => this.running.delete(run));
    };
    const timer = setInterval(tick, job.intervalMs);
    timer.unref();
    this.timers.push(timer);
    if (job.runAtStart) tick();
  }

  private lockQuery(sql: string, values: unknown[]): Promise<pg.QueryResult> {
    return this.lockQueries.run(async () => (await this.locks()).query(sql, values));
  }

  /** The scheduler's own connection for locks, opened on first use and again after it is lost. */
  private locks(): Promise<pg.Client> {
    if (this.lockConnection) return this.lockConnection;
    const options = this.db.options as PostgresConnectionOptions;
    const client = new pg.Client({ connectionString: options.url, application_name: "handover-job-locks" });
    const connecting = client.connect().then(() => client);
    this.lockConnection = connecting;
    const forget = () => {
      if (this.lockConnection === connecting) this.lockConnection = null;
    };
    connecting.catch(forget);
    client.on("error", (error) => {
      this.logger.warn({ err: error }, "job lock connection lost; running jobs may now also start elsewhere");
      forget();
    });
    client.on("end", forget);
    return connecting;
  }
}
