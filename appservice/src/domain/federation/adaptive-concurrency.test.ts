import { describe, expect, it } from "vitest";
import { AdaptiveStage, ConcurrencyLimit, forEachAdaptively } from "./adaptive-concurrency.js";

/** A homeserver that answers `capacity` calls at a time in `serviceMs` each and queues the rest. */
const queueingServer = (capacity: number, serviceMs: number) => (inFlight: number) => serviceMs * Math.max(1, inFlight / capacity);

describe("ConcurrencyLimit", () => {
  it("grows while the homeserver answers as fast as with one call, and settles near its capacity once it queues", () => {
    const limit = new ConcurrencyLimit({ initial: 2, min: 1, max: 64, tolerance: 2 });
    const server = queueingServer(6, 20);
    const seen: number[] = [];
    for (let i = 0; i < 400; i++) {
      limit.answered(server(limit.current));
      seen.push(limit.current);
    }
    expect(limit.peak).toBeGreaterThanOrEqual(6);
    // Settled: never beyond twice the tolerance band, never starved.
    for (const value of seen.slice(200)) {
      expect(value).toBeGreaterThanOrEqual(6);
      expect(value).toBeLessThanOrEqual(2 * 2 * 6);
    }
  });

  it("climbs to its maximum for a homeserver that never queues, and not beyond", () => {
    const limit = new ConcurrencyLimit({ initial: 4, min: 1, max: 16, tolerance: 2 });
    for (let i = 0; i < 100; i++) limit.answered(15);
    expect(limit.current).toBe(16);
  });

  it("backs off when answers slow down, and halves on a failure, never below the minimum", () => {
    const limit = new ConcurrencyLimit({ initial: 16, min: 2, max: 32, tolerance: 2 });
    limit.answered(10);
    for (let i = 0; i < 30; i++) limit.answered(200);
    expect(limit.current).toBe(2);
    const other = new ConcurrencyLimit({ initial: 16, min: 2, max: 32, tolerance: 2 });
    other.failed();
    expect(other.current).toBe(8);
    for (let i = 0; i < 10; i++) other.failed();
    expect(other.current).toBe(2);
  });

  it("one round of answers a little too slow shrinks the limit in proportion, not to the minimum", () => {
    const limit = new ConcurrencyLimit({ initial: 32, min: 2, max: 64, tolerance: 4 });
    limit.answered(10);
    const before = limit.current;
    for (let i = 0; i < before; i++) limit.answered(100);
    expect(limit.current).toBeLessThan(before);
    expect(limit.current).toBeGreaterThanOrEqual(16);
  });

  it("refuses a nonsensical configuration", () => {
    expect(() => new ConcurrencyLimit({ initial: 0, min: 1, max: 4, tolerance: 2 })).toThrow(RangeError);
    expect(() => new ConcurrencyLimit({ initial: 4, min: 1, max: 4, tolerance: 1 })).toThrow(RangeError);
  });
});

describe("forEachAdaptively", () => {
  it("does every item, never with more in flight than the limit allows, and hands failures on without stopping", async () => {
    const limit = new ConcurrencyLimit({ initial: 3, min: 1, max: 3, tolerance: 2 });
    let inFlight = 0;
    let most = 0;
    const done: number[] = [];
    const failed: number[] = [];
    await forEachAdaptively(
      Array.from({ length: 50 }, (_, i) => i),
      limit,
      async (item) => {
        inFlight++;
        most = Math.max(most, inFlight);
        await new Promise((resolve) => setImmediate(resolve));
        inFlight--;
        if (item % 7 === 0) throw new Error(`room ${item} refused`);
        done.push(item);
      },
      (item) => failed.push(item),
    );
    expect(most).toBeLessThanOrEqual(3);
    expect([...done, ...failed].sort((x, y) => x - y)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(failed).toEqual([0, 7, 14, 21, 28, 35, 42, 49]);
  });

  it("returns at once for no items", async () => {
    await forEachAdaptively(
      [],
      new ConcurrencyLimit({ initial: 1, min: 1, max: 1, tolerance: 2 }),
      async () => undefined,
      () => undefined,
    );
  });
});

describe("AdaptiveStage, hostile work and handlers", () => {
  /** Fails the test instead of hanging it when a stage never drains. */
  const within = <T>(promise: Promise<T>, ms = 500) =>
    Promise.race([promise, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`not settled within ${ms} ms`)), ms))]);

  it("treats a work function that throws synchronously as a failed item: the stage still drains", async () => {
    const failed: number[] = [];
    const done: number[] = [];
    const run = forEachAdaptively(
      [0, 1, 2],
      new ConcurrencyLimit({ initial: 1, min: 1, max: 1, tolerance: 2 }),
      (item) => {
        if (item === 1) throw new Error("thrown before any promise");
        done.push(item);
        return Promise.resolve();
      },
      (item) => failed.push(item),
    );
    await within(run);
    expect(done).toEqual([0, 2]);
    expect(failed).toEqual([1]);
  });

  it("a failure handler that throws makes drained reject once the stage is idle (not an unhandled rejection, not a silent drop)", async () => {
    const stage = new AdaptiveStage<number>(
      new ConcurrencyLimit({ initial: 2, min: 1, max: 2, tolerance: 2 }),
      async (item) => {
        if (item === 1) throw new Error("refused");
      },
      () => {
        throw new Error("the handler broke");
      },
    );
    for (const item of [0, 1, 2, 3]) stage.push(item);
    stage.close();
    await expect(within(stage.drained)).rejects.toThrow("the handler broke");
  });
});
