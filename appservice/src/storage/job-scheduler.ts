import { createHash } from "node:crypto";
import type { Logger } from "pino";
import type { DataSource } from "typeorm";

export interface JobOptions {
  /** Stable name: also the lock that keeps two processes from running the job at once. */
  name: string;
  intervalMs: number;
  /** Run once straight after start() too. */
  runAtStart?: boolean;
}

function lockKey(name: string): bigint {
  return createHash("sha256").update(`handover-job:${name}`).digest().readBigInt64BE(0);
}

/**
 * Runs periodic jobs. Each run holds a transaction-scoped advisory lock named after the job,
 * so with several Handover processes on one database a job runs in one of them at a time;
 * the others skip that tick. A lock dies with its connection, so a crashed process never
 * blocks the job.
 */
export class JobScheduler {
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly jobs: (JobOptions & { task: () => Promise<void> })[] = [];
  private readonly running = new Set<Promise<unknown>>();
  private started = false;

  constructor(
    private readonly db: DataSource,
    private readonly logger: Logger,
  ) {}

  register(options: JobOptions, task: () => Promise<void>): void {
    this.jobs.push({ ...options, task });
    if (this.started) this.schedule(this.jobs[this.jobs.length - 1] as JobOptions & { task: () => Promise<void> });
  }

  /** Runs the job now (if no other process is running it); true when it ran. */
  async runNow(name: string): Promise<boolean> {
    const job = this.jobs.find((candidate) => candidate.name === name);
    if (!job) throw new Error(`no job named ${name}`);
    return this.runExclusive(job);
  }

  start(): void {
    this.started = true;
    for (const job of this.jobs) this.schedule(job);
  }

  async stop(): Promise<void> {
    this.started = false;
    for (const timer of this.timers.splice(0)) clearInterval(timer);
    await Promise.allSettled([...this.running]);
  }

  private schedule(job: JobOptions & { task: () => Promise<void> }): void {
    const tick = () => {
      const run = this.runExclusive(job).catch((error: unknown) => this.logger.error({ err: error, job: job.name }, "job failed"));
      this.running.add(run);
      void run.finally(() => this.running.delete(run));
    };
    const timer = setInterval(tick, job.intervalMs);
    timer.unref();
    this.timers.push(timer);
    if (job.runAtStart) tick();
  }

  private async runExclusive(job: { name: string; task: () => Promise<void> }): Promise<boolean> {
    const runner = this.db.createQueryRunner();
    await runner.connect();
    try {
      await runner.startTransaction();
      const [row] = (await runner.query("SELECT pg_try_advisory_xact_lock($1) AS locked", [lockKey(job.name).toString()])) as { locked: boolean }[];
      if (!row?.locked) {
        await runner.rollbackTransaction();
        return false;
      }
      try {
        await job.task();
      } finally {
        await runner.commitTransaction();
      }
      return true;
    } finally {
      await runner.release();
    }
  }
}
