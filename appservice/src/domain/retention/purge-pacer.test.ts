import { describe, expect, it } from "vitest";
import { FakeClock } from "../../testing/fakes.js";
import { DEFAULT_PACER_SETTINGS, type PacerSettings, PurgePacer } from "./purge-pacer.js";

function pacer(settings: Partial<PacerSettings> = {}, probe?: () => Promise<unknown>) {
  const clock = new FakeClock();
  const pauses: number[] = [];
  const paced = new PurgePacer(
    { ...DEFAULT_PACER_SETTINGS, initialRest: 1, minRest: 1, ...settings },
    clock,
    async (ms) => {
      pauses.push(ms);
      clock.advance(ms);
      // A real pause lets the event loop turn (the probe loop relies on it).
      await new Promise((resolve) => setImmediate(resolve));
    },
    probe,
  );
  return { paced, pauses, clock };
}

describe("purge pacer", () => {
  it("rests after each piece of work in proportion to how long it kept Synapse busy (here a rest factor of 1)", async () => {
    const { paced, pauses, clock } = pacer();
    await paced.paced(async () => clock.advance(120));
    expect(pauses).toEqual([]);
    await paced.paced(async () => clock.advance(40));
    expect(pauses).toEqual([120]);
    // A purge call is timed by its caller from start to finish, then reported.
    paced.worked(300);
    await paced.rested();
    expect(pauses).toEqual([120, 300]);
    expect(paced.stats.busyMs).toBe(460);
  });

  it("doubles the rest and halves the steps in flight on a slow probe answer; quick answers take the rest down, and only at the least rest does another step run", async () => {
    const { paced } = pacer({ maxConcurrency: 3, minRest: 0.25, restStep: 0.125 });
    paced.observe(10);
    expect(paced.restFactor).toBe(0.875);
    for (let i = 0; i < 5; i++) paced.observe(10);
    expect(paced.restFactor).toBe(0.25);
    expect(paced.concurrency).toBe(2);
    paced.observe(10);
    paced.observe(10);
    expect(paced.concurrency).toBe(3);
    // 2 × 10 + 15 ms is still quick; 60 ms is slow.
    paced.observe(35);
    expect(paced.concurrency).toBe(3);
    paced.observe(60);
    expect(paced.concurrency).toBe(1);
    expect(paced.restFactor).toBe(0.5);
    paced.observe(60);
    paced.observe(60);
    expect(paced.restFactor).toBe(2);
    expect(paced.stats.slowAnswers).toBe(3);
    for (let i = 0; i < 10; i++) paced.observe(60);
    expect(paced.restFactor).toBe(DEFAULT_PACER_SETTINGS.maxRest);
  });

  it("never runs more steps at once than its current limit", async () => {
    const { paced } = pacer({ maxConcurrency: 2, initialRest: 0.25, minRest: 0.25 });
    paced.observe(10);
    expect(paced.concurrency).toBe(2);
    let inFlight = 0;
    let most = 0;
    const step = async () => {
      inFlight++;
      most = Math.max(most, inFlight);
      await new Promise((resolve) => setTimeout(resolve, 1));
      inFlight--;
    };
    await Promise.all(Array.from({ length: 12 }, () => paced.run(step)));
    expect(most).toBe(2);
  });

  it("times its probe while steps are under way and stops once none is; a failed probe is not an answer", async () => {
    let probes = 0;
    let release: () => void = () => undefined;
    const { paced, clock, pauses } = pacer({}, async () => {
      probes++;
      clock.advance(probes === 2 ? 80 : 5);
      if (probes === 3) throw new Error("unreachable");
    });
    const step = paced.run(() => new Promise<void>((resolve) => (release = resolve)));
    for (let i = 0; i < 20 && probes < 4; i++) await new Promise((resolve) => setImmediate(resolve));
    expect(probes).toBeGreaterThanOrEqual(4);
    expect(paced.stats.slowAnswers).toBe(1);
    release();
    await step;
    const after = probes;
    for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve));
    expect(probes - after).toBeLessThanOrEqual(1);
    expect(paced.stats.answers).toBe(probes - 1);
    expect(pauses.every((ms) => ms === DEFAULT_PACER_SETTINGS.probeIntervalMs)).toBe(true);
  });
});

/** Lets the event loop turn `times` times (the fake pauses above each take one turn). */
async function turns(times: number): Promise<void> {
  for (let i = 0; i < times; i++) await new Promise((resolve) => setImmediate(resolve));
}

describe("purge pacer's probe loop", () => {
  it("a probe that throws before it answers is not an answer: probing goes on, and no rejection escapes (Node would crash on it)", async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    try {
      let probes = 0;
      const { paced } = pacer({}, () => {
        probes++;
        throw new Error("no access token");
      });
      await paced.run(() => turns(10));
      await turns(10);
      expect(unhandled).toEqual([]);
      expect(probes).toBeGreaterThanOrEqual(2);
      expect(paced.stats.answers).toBe(0);
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
  });

  it("a probe unanswered after probeTimeoutMs is a slow answer, and probing goes on without it, in this sweep and the next", async () => {
    let probes = 0;
    const { paced, clock } = pacer({ probeTimeoutMs: 5 }, () => {
      probes++;
      // Synapse takes the first write and never answers it (the HTTP client gives up only after 15 s).
      if (probes === 1) return new Promise<never>(() => undefined);
      clock.advance(5);
      return Promise.resolve();
    });
    await paced.run(async () => {
      for (let i = 0; i < 500 && probes < 3; i++) await new Promise((resolve) => setTimeout(resolve, 1));
    });
    expect(probes).toBeGreaterThanOrEqual(3);
    expect(paced.stats.slowAnswers).toBe(1);
    expect(paced.stats.peakRest).toBe(2);
    await turns(10);
    const before = probes;
    await paced.run(() => turns(10));
    expect(probes).toBeGreaterThan(before);
  });
});

describe("purge pacer's rests", () => {
  /** A pacer whose pauses fail past the 20th, so that a rest that never ends fails the test rather than hanging it. */
  function guarded(settings: Partial<PacerSettings> = {}) {
    const clock = new FakeClock();
    const pauses: number[] = [];
    const paced = new PurgePacer({ ...DEFAULT_PACER_SETTINGS, initialRest: 1, minRest: 1, ...settings }, clock, async (ms) => {
      pauses.push(ms);
      if (pauses.length > 20) throw new Error(`still resting after ${pauses.join(", ")}`);
      clock.advance(ms);
    });
    return { paced, pauses, clock };
  }

  it("a clock stepped back after the work (NTP, a VM moved) owes no more rest than the work did", async () => {
    const { paced, pauses, clock } = guarded();
    paced.worked(100);
    clock.advance(-3_600_000);
    await paced.rested();
    expect(pauses.reduce((sum, ms) => sum + ms, 0)).toBeLessThanOrEqual(100);
  });

  it("a duration that is not a number, infinite or negative owes no rest, and the next rest is as owed", async () => {
    const { paced, pauses } = guarded();
    for (const busy of [Number.NaN, Number.POSITIVE_INFINITY, -50]) {
      paced.worked(busy);
      await paced.rested();
    }
    expect(pauses).toEqual([]);
    expect(paced.stats.busyMs).toBe(0);
    paced.worked(30);
    await paced.rested();
    expect(pauses).toEqual([30]);
  });

  it("one rest is at most maxRestMs, however long the work seemed (a clock stepped forward while it ran)", async () => {
    const { paced, pauses } = guarded({ maxRest: 16, initialRest: 16 });
    paced.worked(86_400_000);
    await paced.rested();
    expect(pauses.reduce((sum, ms) => sum + ms, 0)).toBe(DEFAULT_PACER_SETTINGS.maxRestMs);
  });
});

describe("purge pacer's baseline", () => {
  it("a probe timed across a clock stepped back (a negative answer) or not timed at all is not an answer, and later quick answers stay quick", () => {
    const { paced } = pacer();
    paced.observe(10);
    paced.observe(-3_600_000);
    paced.observe(Number.NaN);
    for (let i = 0; i < 20; i++) paced.observe(10);
    expect(paced.stats.slowAnswers).toBe(0);
    expect(paced.stats.answers).toBe(21);
  });

  it("an answer of 0 ms (a coarse clock) does not pin the baseline at zero: it drifts up to what the homeserver answers in", () => {
    const { paced } = pacer();
    paced.observe(0);
    for (let i = 0; i < 200; i++) paced.observe(40);
    const slow = paced.stats.slowAnswers;
    for (let i = 0; i < 10; i++) paced.observe(40);
    expect(paced.stats.slowAnswers).toBe(slow);
  });
});
