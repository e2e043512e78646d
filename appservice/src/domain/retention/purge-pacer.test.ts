import { describe, expect, it } from "vitest";
import { FakeClock } from "../../testing/fakes.js";
import { DEFAULT_PACER_SETTINGS, PurgePacer } from "./purge-pacer.js";

function pacer(maxConcurrency = 4) {
  const clock = new FakeClock();
  const pauses: number[] = [];
  const paced = new PurgePacer({ ...DEFAULT_PACER_SETTINGS, maxConcurrency }, clock, async (ms) => {
    pauses.push(ms);
  });
  return { paced, pauses };
}

describe("purge pacer", () => {
  it("adds one step in flight after each step with quick answers, up to the maximum", async () => {
    const { paced } = pacer(3);
    expect(paced.concurrency).toBe(1);
    for (let i = 0; i < 5; i++) {
      await paced.run(async () => paced.observe(10));
    }
    expect(paced.concurrency).toBe(3);
  });

  it("halves the steps in flight when Synapse answers slowly, then pauses between steps once down to one", async () => {
    const { paced, pauses } = pacer(4);
    for (let i = 0; i < 4; i++) await paced.run(async () => paced.observe(10));
    expect(paced.concurrency).toBe(4);
    await paced.run(async () => paced.observe(200));
    expect(paced.concurrency).toBe(2);
    await paced.run(async () => paced.observe(200));
    await paced.run(async () => paced.observe(200));
    expect(paced.concurrency).toBe(1);
    await paced.run(async () => paced.observe(200));
    await paced.run(async () => {});
    expect(pauses.length).toBeGreaterThan(0);
    expect(paced.stats.backoffs).toBe(4);
  });

  it("never runs more steps at once than its current limit", async () => {
    const { paced } = pacer(2);
    let inFlight = 0;
    let most = 0;
    const step = async () => {
      inFlight++;
      most = Math.max(most, inFlight);
      await new Promise((resolve) => setTimeout(resolve, 1));
      paced.observe(10);
      inFlight--;
    };
    await Promise.all(Array.from({ length: 12 }, () => paced.run(step)));
    expect(most).toBeLessThanOrEqual(2);
    expect(most).toBe(2);
  });
});
