import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { directorySchema } from "../config/directory.js";
import { PushCoalescer } from "./push-coalescer.js";

describe("SCIM pushes coalesced into runs", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  const coalescer = (run: () => Promise<unknown>) =>
    new PushCoalescer({ quietMs: 1_000, maxDelayMs: 10_000, run, onError: (error) => expect.fail(String(error)), now: () => Date.now() });

  it("a burst of pushes a few hundred milliseconds apart makes one run, once they are quiet", async () => {
    const run = vi.fn(async () => undefined);
    const pushes = coalescer(run);
    for (let push = 0; push < 20; push++) {
      pushes.pushed();
      await vi.advanceTimersByTimeAsync(300);
    }
    expect(run).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(run).toHaveBeenCalledTimes(1);
  });

  it("with the default quiet window, a provisioning cycle's requests sent back to back make one run, 250 ms after the last (issue 16.1)", async () => {
    const scim = directorySchema.parse({ scim: { bearerToken: "a-scim-token-that-is-long-enough-0123456789" } }).scim;
    const run = vi.fn(async () => undefined);
    const pushes = new PushCoalescer({
      quietMs: scim?.syncDelay ?? Number.NaN,
      maxDelayMs: scim?.maxDelay ?? Number.NaN,
      run,
      onError: (error) => expect.fail(String(error)),
    });
    for (let push = 0; push < 20; push++) {
      pushes.pushed();
      await vi.advanceTimersByTimeAsync(20);
    }
    expect(run).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(230);
    expect(run).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(run).toHaveBeenCalledTimes(1);
  });

  it("pushes that never stop still get a run by the longest delay", async () => {
    const run = vi.fn(async () => undefined);
    const pushes = coalescer(run);
    for (let push = 0; push < 40; push++) {
      pushes.pushed();
      await vi.advanceTimersByTimeAsync(500);
    }
    // 20 s of pushes every 500 ms: a run at 10 s and one at 20 s, not 40.
    expect(run).toHaveBeenCalledTimes(2);
  });

  it("pushes during a run share one more run after it", async () => {
    let finish: () => void = () => undefined;
    const run = vi.fn(() => new Promise<void>((resolve) => (finish = resolve)));
    const pushes = coalescer(run);
    pushes.pushed();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(run).toHaveBeenCalledTimes(1);
    for (let push = 0; push < 5; push++) {
      pushes.pushed();
      await vi.advanceTimersByTimeAsync(1_500);
    }
    expect(run).toHaveBeenCalledTimes(1);
    finish();
    await vi.advanceTimersByTimeAsync(0);
    expect(run).toHaveBeenCalledTimes(2);
    finish();
    await pushes.stop();
    expect(run).toHaveBeenCalledTimes(2);
  });

  it("a quiet time longer than the longest delay wins (a source that only wants scheduled runs)", async () => {
    const run = vi.fn(async () => undefined);
    const pushes = new PushCoalescer({ quietMs: 3_600_000, maxDelayMs: 10_000, run, onError: () => undefined });
    pushes.pushed();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(run).not.toHaveBeenCalled();
    await pushes.stop();
  });
});
