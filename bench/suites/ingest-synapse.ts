import pg from "pg";
import { buildSynapseRoot, startStack } from "../../tests/harness/stack.js";
import { startHandover } from "../../tests/support/handover-instance.js";
import { eventually, TestUser } from "../../tests/support/matrix-user.js";
import { CLINICAL_ROOM } from "../../tests/support/records-room.js";
import { percentile, round } from "../figures.js";

const SENDERS = 4;
const WARMUP_PER_SENDER = 5;
const MEASURED_PER_SENDER = 100;

export interface ThroughSynapse {
  eventsPerS: number;
  p50Ms: number;
  p99Ms: number;
  events: number;
}

/**
 * Messages from real clients through a real Synapse to Handover: each sender sends into its own
 * clinical room, one message after another, all senders at once. A message counts as ingested
 * when Handover has indexed it (retention's event index); latency is from Synapse's answer to the
 * sender to that moment (polled every 20 ms). Run once with a single Synapse process and once
 * with workers (docs/install.md, "Large trusts"), the same Handover in both.
 */
export async function ingestThroughSynapse(workers: boolean): Promise<ThroughSynapse> {
  const root = await buildSynapseRoot();
  const stack = await startStack({ trusts: ["a"], root, synapseWorkers: workers });
  const trust = stack.trusts.a;
  const handover = await startHandover(trust, stack.databaseUrls.a, { retention: { sweepInterval: "1h" }, logLevel: "warn" });
  const db = new pg.Client({ connectionString: stack.databaseUrls.a });
  try {
    await db.connect();
    const stamp = Date.now();
    const senders = await Promise.all(Array.from({ length: SENDERS }, (_, i) => TestUser.register(trust, `bench-ingest${stamp}-${i}`)));
    const rooms = await Promise.all(
      senders.map(async (sender, i) => {
        const roomId = await sender.createRoom(`Bench ward ${i}`, CLINICAL_ROOM);
        await sender.invite(roomId, handover.botUserId);
        await eventually("the bot to join", async () => (await sender.members(roomId))[handover.botUserId] === "join", 120_000);
        return roomId;
      }),
    );
    const answeredAt = new Map<string, number>();
    const arrivedAt = new Map<string, number>();
    const sendAll = async (count: number, label: string) =>
      Promise.all(
        senders.map(async (sender, i) => {
          for (let n = 0; n < count; n++) {
            const eventId = await sender.send(rooms[i] as string, `${label} ${n}: obs stable, NEWS 2`);
            answeredAt.set(eventId, performance.now());
          }
        }),
      );
    const watch = async (deadlineMs: number) => {
      for (;;) {
        const pending = [...answeredAt.keys()].filter((id) => !arrivedAt.has(id));
        if (pending.length > 0) {
          const { rows } = await db.query("SELECT event_id FROM retention_events WHERE event_id = ANY($1)", [pending]);
          const now = performance.now();
          for (const row of rows) arrivedAt.set(row.event_id as string, now);
        }
        if (pending.length === 0 && answeredAt.size > 0) return;
        if (performance.now() > deadlineMs) throw new Error(`${pending.length} messages not ingested in time`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    };
    await sendAll(WARMUP_PER_SENDER, "warm-up");
    await watch(performance.now() + 120_000);
    answeredAt.clear();
    arrivedAt.clear();
    const started = performance.now();
    const watching = (async () => {
      // Polls while the senders send, so latency is measured as messages arrive.
      while (answeredAt.size < SENDERS * MEASURED_PER_SENDER) {
        await watch(performance.now() + 300_000).catch(() => undefined);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      await watch(performance.now() + 300_000);
    })();
    await sendAll(MEASURED_PER_SENDER, "measured");
    await watching;
    const seconds = (performance.now() - started) / 1000;
    const latencies = [...answeredAt].map(([id, at]) => (arrivedAt.get(id) as number) - at).sort((a, b) => a - b);
    return {
      eventsPerS: round(answeredAt.size / seconds, 1),
      p50Ms: round(percentile(latencies, 50), 0),
      p99Ms: round(percentile(latencies, 99), 0),
      events: answeredAt.size,
    };
  } finally {
    await db.end().catch(() => undefined);
    await handover.stop();
    await stack.stop();
  }
}
