import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createLogger } from "../../appservice/src/logger.js";
import { createDataSource } from "../../appservice/src/storage/data-source.js";
import { JobScheduler } from "../../appservice/src/storage/job-scheduler.js";

const databaseUrl = inject("stack").databaseUrls.b;
const first = createDataSource(databaseUrl, 3);
const second = createDataSource(databaseUrl, 3);

beforeAll(async () => {
  await Promise.all([first.initialize(), second.initialize()]);
});
afterAll(async () => {
  await Promise.all([first.destroy(), second.destroy()]);
});

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
    a.register({ name: "sweep", intervalMs: 3_600_000 }, async () => {
      runs.push("a");
      await gate;
    });
    b.register({ name: "sweep", intervalMs: 3_600_000 }, async () => {
      runs.push("b");
    });
    const running = a.runNow("sweep");
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await b.runNow("sweep")).toBe(false);
    release();
    expect(await running).toBe(true);
    expect(await b.runNow("sweep")).toBe(true);
    expect(runs).toEqual(["a", "b"]);
  });
});
