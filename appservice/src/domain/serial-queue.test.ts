import { describe, expect, it } from "vitest";
import { SerialQueue } from "./serial-queue.js";

/** A promise the test settles by hand, so the order is the test's, not a timer's. */
function gate() {
  let open: () => void = () => {};
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { opened, open };
}

describe("SerialQueue", () => {
  it("runs work one item at a time, in the order it was asked for", async () => {
    const queue = new SerialQueue();
    const first = gate();
    const log: string[] = [];
    const a = queue.run(async () => {
      log.push("a starts");
      await first.opened;
      log.push("a ends");
      return "a";
    });
    const b = queue.run(async () => {
      log.push("b starts");
      return "b";
    });
    const c = queue.run(() => {
      log.push("c runs");
      return "c";
    });
    await Promise.resolve();
    expect(log).toEqual(["a starts"]);
    expect(queue.pending).toBe(3);
    first.open();
    expect(await Promise.all([a, b, c])).toEqual(["a", "b", "c"]);
    expect(log).toEqual(["a starts", "a ends", "b starts", "c runs"]);
  });

  it("never starts work inside run(), so the caller can note the promise first", () => {
    const queue = new SerialQueue();
    let started = false;
    void queue.run(() => {
      started = true;
    });
    expect(started).toBe(false);
  });

  it("fails only the caller whose work failed; the next item still runs", async () => {
    const queue = new SerialQueue();
    const failing = queue.run(async () => {
      throw new Error("store unreachable");
    });
    const throwing = queue.run(() => {
      throw new Error("thrown before any await");
    });
    const next = queue.run(async () => "ran");
    await expect(failing).rejects.toThrow("store unreachable");
    await expect(throwing).rejects.toThrow("thrown before any await");
    expect(await next).toBe("ran");
    await queue.idle();
    expect(queue.pending).toBe(0);
  });

  it("idle() waits for everything queued so far, failures included, and never rejects", async () => {
    const queue = new SerialQueue();
    const first = gate();
    const done: string[] = [];
    void queue.run(async () => {
      await first.opened;
      done.push("slow");
    });
    queue
      .run(async () => {
        throw new Error("refused");
      })
      .catch(() => done.push("failed"));
    const idle = queue.idle().then(() => done.push("idle"));
    first.open();
    await idle;
    expect(done).toEqual(["slow", "failed", "idle"]);
    expect(await new SerialQueue().idle()).toBeUndefined();
  });

  it("keeps nothing of finished work: pending returns to zero after many items", async () => {
    const queue = new SerialQueue();
    let sum = 0;
    const items = 50_000;
    for (let i = 1; i <= items; i++) {
      void queue.run(() => {
        sum += i;
      });
    }
    expect(queue.pending).toBe(items);
    await queue.idle();
    expect(sum).toBe((items * (items + 1)) / 2);
    expect(queue.pending).toBe(0);
  });
});
