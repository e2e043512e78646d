import type pg from "pg";
import type { DataSource } from "typeorm";
import type { PostgresDriver } from "typeorm/driver/postgres/PostgresDriver.js";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createLogger } from "../../appservice/src/logger.js";
import { createDataSource } from "../../appservice/src/storage/data-source.js";
import { JobScheduler } from "../../appservice/src/storage/job-scheduler.js";
import { freshDatabase } from "../support/fresh-database.js";
import { startHandover } from "../support/handover-instance.js";
import { eventually } from "../support/matrix-user.js";

const stack = inject("stack");
const databaseUrl = stack.databaseUrls.b;
const first = createDataSource(databaseUrl, 3);
const second = createDataSource(databaseUrl, 3);
const HOUR_MS = 3_600_000;

beforeAll(async () => {
  await Promise.all([first.initialize(), second.initialize()]);
});
afterAll(async () => {
  await Promise.all([first.destroy(), second.destroy()]);
});

function pgPool(db: DataSource): pg.Pool {
  return (db.driver as PostgresDriver).master as pg.Pool;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A promise the test settles by hand. */
function signal() {
  let fire: () => void = () => {};
  const fired = new Promise<void>((resolve) => {
    fire = resolve;
  });
  return { fired, fire };
}

describe("job scheduler on PostgreSQL", () => {
  it("runs a job in one process at a time; the other skips", async () => {
    const logger = createLogger("warn");
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const runs: string[] = [];
    const a = new JobScheduler(first, logger);
    const b = new JobScheduler(second, logger);
    a.register({ name: "sweep", intervalMs: HOUR_MS }, async () => {
      runs.push("a");
      await gate;
    });
    b.register({ name: "sweep", intervalMs: HOUR_MS }, async () => {
      runs.push("b");
    });
    const running = a.runNow("sweep");
    await sleep(200);
    expect(await b.runNow("sweep")).toBe(false);
    // The lock is a session lock, which PostgreSQL lets its holder take again: the scheduler must refuse that itself.
    expect(await a.runNow("sweep")).toBe(false);
    release();
    expect(await running).toBe(true);
    expect(await b.runNow("sweep")).toBe(true);
    expect(runs).toEqual(["a", "b"]);
    await Promise.all([a.stop(), b.stop()]);
  });

  it("runExclusive runs work under a job's lock: never beside the job in another process, and gives back what the work returned", async () => {
    const logger = createLogger("warn");
    const release = signal();
    const holding = signal();
    const a = new JobScheduler(first, logger);
    const b = new JobScheduler(second, logger);
    let scheduledRuns = 0;
    // Registered in b only: runExclusive takes the lock by name, registered here or not.
    b.register({ name: "manual-sweep", intervalMs: HOUR_MS }, async () => {
      scheduledRuns += 1;
    });
    const running = a.runExclusive("manual-sweep", async () => {
      holding.fire();
      await release.fired;
      return "swept by a";
    });
    await holding.fired;
    expect(await b.runNow("manual-sweep")).toBe(false);
    expect(await b.runExclusive("manual-sweep", async () => "swept by b")).toEqual({ ran: false });
    expect(await a.runExclusive("manual-sweep", async () => "again by a")).toEqual({ ran: false });
    release.fire();
    expect(await running).toEqual({ ran: true, value: "swept by a" });
    expect(await b.runExclusive("manual-sweep", async () => "swept by b")).toEqual({ ran: true, value: "swept by b" });
    await expect(a.runExclusive("manual-sweep", async () => Promise.reject(new Error("purge refused")))).rejects.toThrow("purge refused");
    // A failed run gives the lock back.
    expect(await b.runNow("manual-sweep")).toBe(true);
    expect(scheduledRuns).toBe(1);
    await Promise.all([a.stop(), b.stop()]);
  });

  it("finishes N jobs that each need a database connection with a pool of N (no deadlock)", async () => {
    const jobCount = 4;
    const db = createDataSource(databaseUrl, jobCount);
    await db.initialize();
    const scheduler = new JobScheduler(db, createLogger("warn"));
    // Every job waits until all of them are running before it queries, so if the scheduler
    // itself held a pooled connection per running job, every connection would be taken.
    let arrived = 0;
    let allRunning: () => void = () => {};
    const barrier = new Promise<void>((resolve) => {
      allRunning = resolve;
    });
    const names = Array.from({ length: jobCount }, (_, i) => `needs-a-connection-${i}`);
    for (const name of names) {
      scheduler.register({ name, intervalMs: HOUR_MS }, async () => {
        if (++arrived === jobCount) allRunning();
        await barrier;
        await db.query("SELECT 1");
      });
    }
    const runs = Promise.all(names.map((name) => scheduler.runNow(name)));
    // A liveness bound, not a timing claim: four one-line queries finish in milliseconds.
    const outcome = await Promise.race([runs.then(() => "all jobs finished"), sleep(20_000).then(() => "jobs still waiting")]);
    const waitingForAConnection = pgPool(db).waitingCount;
    expect({ outcome, waitingForAConnection }).toEqual({ outcome: "all jobs finished", waitingForAConnection: 0 });
    await scheduler.stop();
    await db.destroy();
  });
});

describe("/readyz and the database pool", () => {
  it("reports a pool exhausted for longer than database.poolExhaustedAfter, and recovers", async () => {
    const handover = await startHandover(stack.trusts.b, await freshDatabase(databaseUrl, "pool_readyz"));
    const readyz = async () => {
      const response = await fetch(`http://127.0.0.1:${handover.webPort}/readyz`);
      return { status: response.status, body: (await response.json()) as { checks: Record<string, boolean>; problems?: string[] } };
    };
    try {
      expect((await readyz()).status).toBe(200);
      expect(handover.pool.size).toBe(handover.config.database.poolSize + handover.jobs.count);
      // Take every connection the pool has (its size includes one per registered job), then ask for one more.
      const held = await Promise.all(
        Array.from({ length: handover.pool.size }, async () => {
          const runner = handover.db.createQueryRunner();
          await runner.connect();
          return runner;
        }),
      );
      const queued = handover.db.query("SELECT 1").then(
        () => "answered",
        (error: unknown) => error,
      );
      const stalled = await eventually("/readyz to report the exhausted pool", async () => {
        const answer = await readyz();
        return answer.status === 503 && answer.body.problems ? answer : undefined;
      });
      expect(stalled.body.checks.database).toBe(false);
      expect(stalled.body.problems).toEqual(["database pool exhausted for > 5s"]);
      await Promise.all(held.map((runner) => runner.release()));
      expect(await queued).toBe("answered");
      await eventually("/readyz to recover", async () => (await readyz()).status === 200);
    } finally {
      await handover.stop();
    }
  });
});
