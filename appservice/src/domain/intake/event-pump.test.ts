import { describe, expect, it } from "vitest";
import { MemoryInboxStore, messageEvent } from "../../testing/fakes.js";
import { EventPump } from "./event-pump.js";

describe("event pump", () => {
  it("deletes handled events from the inbox only after what the handlers buffered is written", async () => {
    const store = new MemoryInboxStore();
    const written: string[] = [];
    let buffered: string[] = [];
    let inboxAtFlush = -1;
    const pump = new EventPump(
      store,
      async (event) => {
        buffered.push(event.event_id);
      },
      {
        handled: () => {},
        failed: () => {},
        beforeDone: async () => {
          inboxAtFlush = (await store.pending(100)).length;
          written.push(...buffered);
          buffered = [];
        },
      },
    );
    const items = (await store.accept("t1", [messageEvent({ event_id: "$1" }), messageEvent({ event_id: "$2" })], [])) ?? [];
    pump.enqueue(items);
    await pump.idle();
    expect(inboxAtFlush).toBe(2);
    expect(written).toEqual(["$1", "$2"]);
    expect(await store.pending(100)).toHaveLength(0);
  });

  it("keeps handled events in the inbox when the buffered work cannot be written, so a later pass handles them again", async () => {
    const store = new MemoryInboxStore();
    let fail = true;
    const handled: string[] = [];
    const reported: string[] = [];
    const pump = new EventPump(
      store,
      async (event) => {
        handled.push(event.event_id);
      },
      {
        handled: () => {},
        failed: () => {},
        beforeDone: async () => {
          if (fail) throw new Error("database gone");
        },
        notDone: (error) => reported.push(String(error)),
      },
    );
    pump.enqueue((await store.accept("t1", [messageEvent({ event_id: "$1" })], [])) ?? []);
    await pump.idle();
    expect(await store.pending(100)).toHaveLength(1);
    expect(reported).toEqual(["Error: database gone"]);
    fail = false;
    await pump.recover();
    await pump.idle();
    expect(handled).toEqual(["$1", "$1"]);
    expect(await store.pending(100)).toHaveLength(0);
  });
});
