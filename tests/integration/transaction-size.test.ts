import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { Handover } from "../../appservice/src/app.js";
import { freshDatabase } from "../support/fresh-database.js";
import { startHandover } from "../support/handover-instance.js";
import { eventually, TestUser } from "../support/matrix-user.js";

// Synapse puts up to 100 events in one transaction and refuses events over 64 KiB, so its
// largest legitimate transaction is about 6.5 MB; a refusal makes it retry that transaction
// forever, and intake stops. Real Handover, PostgreSQL and Synapse.

const stack = inject("stack");
const trust = stack.trusts.a;
const databaseUrl = await freshDatabase(stack.databaseUrls.a, "transaction_size");
const SYNAPSE_MAX_EVENT_BYTES = 65_536;

let handover: Handover;
let alice: TestUser;
let roomId: string;
let db: pg.Client;

function transaction(txnId: string, body: unknown): Promise<Response> {
  return fetch(`http://127.0.0.1:${trust.appservicePort}/_matrix/app/v1/transactions/${txnId}`, {
    method: "PUT",
    headers: { authorization: `Bearer ${trust.registration.hs_token}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
}

/** A message event whose JSON is `bytes` long, as Synapse would send it in a transaction. */
function messageOfSize(id: string, bytes: number, body = ""): Record<string, unknown> {
  const event = {
    event_id: `$${id}`,
    room_id: roomId,
    sender: alice.userId,
    type: "m.room.message",
    origin_server_ts: Date.now(),
    unsigned: { age: 12 },
    content: { msgtype: "m.text", body, padding: "" },
  };
  event.content.padding = "x".repeat(bytes - Buffer.byteLength(JSON.stringify(event)));
  return event;
}

async function botReplies(): Promise<string[]> {
  return (await alice.messages(roomId)).filter((event) => event.sender === handover.botUserId).map((event) => String(event.content.body));
}

async function handledEvents(): Promise<number> {
  const text = await handover.metrics.registry.getSingleMetricAsString("handover_events_total");
  return Number(/outcome="handled"\} (\d+)/.exec(text)?.[1] ?? 0);
}

beforeAll(async () => {
  alice = await TestUser.register(trust, `alice${Date.now()}`);
  handover = await startHandover(trust, databaseUrl);
  roomId = await alice.createRoom("Ward 9 handover");
  await alice.invite(roomId, handover.botUserId);
  await eventually("the bot to join", async () => (await alice.members(roomId))[handover.botUserId] === "join");
  db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
});

afterAll(async () => {
  await db?.end();
  await handover?.stop();
});

describe("transactions as large as Synapse makes them", () => {
  it("a 6.5 MB transaction is acknowledged", async () => {
    await handover.pump.idle();
    const before = await handledEvents();
    const txnId = `largest-${Date.now()}`;
    const events = Array.from({ length: 100 }, (_, i) => messageOfSize(`largest-${txnId}-${i}`, SYNAPSE_MAX_EVENT_BYTES));
    const body = { events, ephemeral: [], "de.sorunome.msc2409.to_device": [] };
    expect(Buffer.byteLength(JSON.stringify(body))).toBeGreaterThan(6_500_000);

    const response = await transaction(txnId, body);
    expect(response.status).toBe(200);
    expect((await db.query("SELECT 1 FROM appservice_transactions WHERE txn_id = $1", [txnId])).rowCount).toBe(1);
    await eventually("all 100 events handled", async () => (await handledEvents()) - before >= 100);
  });

  it("an oversized single event is quarantined while the rest of its transaction is processed", async () => {
    const txnId = `oversized-${Date.now()}`;
    const oversized = messageOfSize(`oversized-${txnId}`, 300 * 1024);
    const response = await transaction(txnId, {
      events: [messageOfSize(`before-${txnId}`, 2_000, "!handover help"), oversized, messageOfSize(`after-${txnId}`, 2_000, "!handover status")],
    });
    expect(response.status).toBe(200);
    const quarantined = await db.query<{ reason: string; event: { event_id: string } }>(
      "SELECT reason, event FROM quarantined_events WHERE event->>'event_id' = $1",
      [oversized.event_id],
    );
    expect(quarantined.rows).toHaveLength(1);
    expect(quarantined.rows[0]?.reason).toMatch(/^event is 307200 bytes, over the limit of 262144/);
    // The events either side were handled: the bot answered both commands.
    await eventually("the bot's answers to both commands", async () => (await botReplies()).length >= 2);
  });
});
