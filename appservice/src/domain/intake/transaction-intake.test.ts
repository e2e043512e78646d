import { describe, expect, it } from "vitest";
import { MemoryInboxStore, messageEvent } from "../../testing/fakes.js";
import { HandoverError } from "../errors.js";
import type { MatrixEvent } from "../matrix-event.js";
import { EventPump, MAX_ATTEMPTS } from "./event-pump.js";
import { TransactionIntake } from "./transaction-intake.js";

function setup(handler: (event: MatrixEvent) => Promise<void> = async () => {}) {
  const store = new MemoryInboxStore();
  const handled: string[] = [];
  const pump = new EventPump(
    store,
    async (event) => {
      await handler(event);
      handled.push(event.event_id);
    },
    { handled: () => {}, failed: () => {} },
  );
  const quarantined: string[] = [];
  const intake = new TransactionIntake(store, pump, { quarantined: (_txn, reason) => quarantined.push(reason) });
  return { store, pump, intake, handled, quarantined };
}

describe("transaction intake", () => {
  it("handles each event once even when the homeserver retries the transaction", async () => {
    const { intake, pump, handled, store } = setup();
    const events = [messageEvent({ event_id: "$1" }), messageEvent({ event_id: "$2" })];
    expect(await intake.receive("txn1", { events })).toEqual({ duplicate: false, accepted: 2, quarantined: 0 });
    expect(await intake.receive("txn1", { events })).toEqual({ duplicate: true, accepted: 0, quarantined: 0 });
    await pump.idle();
    expect(handled).toEqual(["$1", "$2"]);
    expect(store.items.size).toBe(0);
  });

  it("rejects a malformed body without recording the transaction", async () => {
    const { intake, store } = setup();
    for (const body of [null, [], "x", { events: "nope" }]) {
      await expect(intake.receive("bad", body)).rejects.toBeInstanceOf(HandoverError);
    }
    expect(store.transactions.size).toBe(0);
  });

  it("accepts an empty transaction", async () => {
    const { intake } = setup();
    expect(await intake.receive("empty", {})).toEqual({ duplicate: false, accepted: 0, quarantined: 0 });
  });

  it("sets malformed events aside with a reason and handles the rest", async () => {
    const { intake, pump, handled, store, quarantined } = setup();
    const good = messageEvent({ event_id: "$ok" });
    const result = await intake.receive("t", { events: [{ type: "m.room.message" }, 7, { ...good, content: "text" }, good] });
    await pump.idle();
    expect(result).toEqual({ duplicate: false, accepted: 1, quarantined: 3 });
    expect(handled).toEqual(["$ok"]);
    expect(quarantined).toEqual(["event_id missing or not a string", "event is not an object", "content missing or not an object"]);
    expect(store.quarantined).toHaveLength(3);
  });

  it("keeps a failing event for another attempt, then sets it aside", async () => {
    let failures = 0;
    const { intake, pump, store } = setup(async () => {
      failures++;
      throw new Error("homeserver down");
    });
    await intake.receive("t", { events: [messageEvent({ event_id: "$x" })] });
    await pump.idle();
    expect(store.items.size).toBe(1);
    for (let i = 1; i < MAX_ATTEMPTS; i++) {
      await pump.recover();
      await pump.idle();
    }
    expect(failures).toBe(MAX_ATTEMPTS);
    expect(await store.pending(10)).toEqual([]);
    expect([...store.items.values()][0]?.failed).toBe(true);
  });

  it("recovers events left in the inbox by a crash, in order", async () => {
    const { store } = setup();
    await store.accept("t", [messageEvent({ event_id: "$a" }), messageEvent({ event_id: "$b" })], []);
    const restarted = setup();
    Object.assign(restarted.store, { items: store.items });
    await restarted.pump.recover();
    await restarted.pump.idle();
    expect(restarted.handled).toEqual(["$a", "$b"]);
  });
});
