import pg from "pg";
import { retentionSchema } from "../../appservice/src/config/retention.js";
import { planRoom, type RoomRetentionFacts } from "../../appservice/src/domain/retention/planner.js";
import { PolicyResolver, type RetentionPolicy } from "../../appservice/src/domain/retention/policy.js";
import { retentionPlanner } from "../../appservice/src/retention/capability.js";
import { createDataSource } from "../../appservice/src/storage/data-source.js";
import { PostgresPolicyStore } from "../../appservice/src/storage/retention-policy-store.js";
import { startPostgres } from "../../tests/harness/postgres.js";
import { startStack } from "../../tests/harness/stack.js";
import { migrateDatabase, startHandover } from "../../tests/support/handover-instance.js";
import { TestUser } from "../../tests/support/matrix-user.js";
import { percentile, round, type SuiteResult } from "../figures.js";
import { purgeBench } from "./retention-purge.js";

const ROOMS = 10_000;
const EVENTS_PER_ROOM = 20;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** 10,000 joined rooms with 200,000 indexed messages, 5,000 filings, 1,000 room and 20 space policies, 200 holds. */
async function seed(url: string): Promise<void> {
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  try {
    await db.query(`INSERT INTO rooms (room_id, name, kind, bot_membership)
      SELECT '!bench' || i || ':bench.test', 'Room ' || i, CASE WHEN i % 3 = 0 THEN 'operational' ELSE 'clinical' END, 'join'
      FROM generate_series(1, ${ROOMS}) i`);
    await db.query(`INSERT INTO retention_events (room_id, event_id, ts)
      SELECT '!bench' || i || ':bench.test', '$bench' || i || '-' || j, now() - make_interval(days => 60 - j * 3)
      FROM generate_series(1, ${ROOMS}) i, generate_series(1, ${EVENTS_PER_ROOM}) j`);
    await db.query(`INSERT INTO filed_ranges (filing_ref, room_id, up_to_event_id, up_to_ts, filed_at, filed_by)
      SELECT 'DR-' || i, '!bench' || i || ':bench.test', '$bench' || i || '-10', now() - interval '30 days', now() - interval '2 days', '@doc:bench.test'
      FROM generate_series(1, ${ROOMS}, 2) i`);
    // Each filing captured the events it read (filed means captured).
    await db.query(`INSERT INTO filed_range_events (filing_ref, room_id, event_id, ts, captured)
      SELECT f.filing_ref, f.room_id, e.event_id, e.ts, true FROM filed_ranges f JOIN retention_events e ON e.room_id = f.room_id AND e.ts <= f.up_to_ts`);
    await db.query(`INSERT INTO retention_room_spaces (room_id, space_id)
      SELECT '!bench' || i || ':bench.test', '!space' || (i % 20) || ':bench.test' FROM generate_series(1, ${ROOMS}, 4) i`);
    await db.query(`INSERT INTO retention_policies (id, name, scope_type, scope_value, max_age_ms, delete_after_filing_ms, warn_before_ms, created_by, updated_by)
      SELECT gen_random_uuid(), 'Room policy ' || i, 'room', '!bench' || i || ':bench.test', 7 * 86400000, 3600000, 259200000, '@ig:bench.test', '@ig:bench.test'
      FROM generate_series(1, ${ROOMS}, 10) i`);
    await db.query(`INSERT INTO retention_policies (id, name, scope_type, scope_value, max_age_ms, allow_unfiled_deletion, warn_before_ms, created_by, updated_by)
      SELECT gen_random_uuid(), 'Space policy ' || i, 'space', '!space' || i || ':bench.test', 14 * 86400000, true, 259200000, '@ig:bench.test', '@ig:bench.test'
      FROM generate_series(0, 19) i`);
    await db.query(`INSERT INTO retention_holds (room_id, reason, set_by, set_at)
      SELECT '!bench' || i || ':bench.test', 'Bench hold', '@ig:bench.test', now() FROM generate_series(1, ${ROOMS}, 50) i`);
    await db.query("ANALYZE");
  } finally {
    await db.end();
  }
}

/** The obvious way: one query per question per room (policy, spaces, hold, filing, message stats). */
async function naivePlan(db: ReturnType<typeof createDataSource>, now: Date): Promise<number> {
  const defaults = retentionSchema.parse({}).defaults;
  const policies = new PostgresPolicyStore(db);
  const resolver = (own: RetentionPolicy[]) =>
    new PolicyResolver(own, {
      clinical: {
        maxAgeMs: defaults.clinical.maxAge,
        deleteAfterFilingMs: 86_400_000,
        allowUnfiledDeletion: false,
        minAgeMs: 0,
        warnBeforeMs: 259_200_000,
      },
      operational: {
        maxAgeMs: defaults.operational.maxAge,
        deleteAfterFilingMs: null,
        allowUnfiledDeletion: true,
        minAgeMs: 0,
        warnBeforeMs: 259_200_000,
      },
    });
  const rooms = (await db.query("SELECT room_id, name, kind FROM rooms WHERE bot_membership = 'join'")) as {
    room_id: string;
    name: string;
    kind: "clinical";
  }[];
  let due = 0;
  for (const room of rooms) {
    const spaces = ((await db.query("SELECT space_id FROM retention_room_spaces WHERE room_id = $1", [room.room_id])) as { space_id: string }[]).map(
      (r) => r.space_id,
    );
    const own = (await policies.list()).filter(
      (policy) =>
        (policy.scope.type === "room" && policy.scope.roomId === room.room_id) || (policy.scope.type === "space" && spaces.includes(policy.scope.spaceId)),
    );
    const [hold] = (await db.query("SELECT * FROM retention_holds WHERE room_id = $1", [room.room_id])) as { reason: string }[];
    const [filing] = (await db.query("SELECT * FROM filed_ranges WHERE room_id = $1 AND thread_root_id IS NULL ORDER BY up_to_ts DESC LIMIT 1", [
      room.room_id,
    ])) as {
      up_to_ts: Date;
      filed_at: Date;
      filing_ref: string;
    }[];
    const [stats] = (await db.query(
      "SELECT count(*)::int AS n, min(ts) AS oldest, (count(*) FILTER (WHERE ts <= $2))::int AS filed FROM retention_events WHERE room_id = $1",
      [room.room_id, filing?.up_to_ts ?? new Date(0)],
    )) as { n: number; oldest: Date | null; filed: number }[];
    const facts: RoomRetentionFacts = {
      roomId: room.room_id,
      name: room.name,
      kind: room.kind,
      spaceIds: spaces,
      hold: hold ? { roomId: room.room_id, reason: hold.reason, setBy: "", setAt: now, expiresAt: null } : null,
      filing: filing ? { upToTs: filing.up_to_ts, filedAt: filing.filed_at, filingRef: filing.filing_ref } : null,
      eventCount: stats?.n ?? 0,
      oldestEventTs: stats?.oldest ?? null,
      filedCount: stats?.filed ?? 0,
      warnedUpTo: null,
      warningsCoverUpTo: null,
      oldestUnwarnedUnfiledTs: null,
      oldestUnfiledTs: null,
      pendingWarningDueAt: null,
    };
    if (planRoom(facts, resolver(own).effective(facts), now, { warningGranularityMs: 86_400_000 }).status === "due") due++;
  }
  return due;
}

async function planBench(notes: string[]): Promise<Record<string, number>> {
  const postgres = await startPostgres();
  const db = createDataSource(postgres.url, 4);
  try {
    await migrateDatabase(postgres.url);
    await seed(postgres.url);
    await db.initialize();
    const planner = retentionPlanner(db, retentionSchema.parse({}));
    await planner.plan(); // warm-up
    const runs: number[] = [];
    let due = 0;
    for (let i = 0; i < 7; i++) {
      const started = performance.now();
      const plans = await planner.plan();
      runs.push(performance.now() - started);
      due = plans.filter((plan) => plan.status === "due").length;
      if (plans.length !== ROOMS) throw new Error(`planned ${plans.length} rooms, expected ${ROOMS}`);
    }
    runs.sort((a, b) => a - b);
    const naiveStarted = performance.now();
    const naiveDue = await naivePlan(db, new Date());
    const naiveMs = performance.now() - naiveStarted;
    notes.push(
      `retention: plan over ${ROOMS} rooms / ${ROOMS * EVENTS_PER_ROOM} indexed messages: bulk (one statement + one count) median of 7 runs; naive = ~5 queries per room, one run; ${due} rooms due (naive agrees on ${naiveDue} without warnings)`,
    );
    return {
      "retention.plan_10k_rooms_ms": round(percentile(runs, 50), 0),
      "retention.plan_10k_rooms_max_ms": round(runs[runs.length - 1] as number, 0),
      "retention.plan_10k_rooms_naive_ms": round(naiveMs, 0),
    };
  } finally {
    if (db.isInitialized) await db.destroy();
    await postgres.stop();
  }
}

/** Real Synapse, default sweep settings: a message's expiry to its absence from /messages. */
async function expiryBench(notes: string[]): Promise<Record<string, number>> {
  const stack = await startStack({ trusts: ["a"] as const });
  const trust = stack.trusts.a;
  const handover = await startHandover(trust, stack.databaseUrls.a, { retention: {} });
  try {
    const alice = await TestUser.register(trust, `bench-alice${Date.now()}`);
    const maxAgeMs = 5_000;
    const rooms: string[] = [];
    for (let i = 0; i < 3; i++) {
      const roomId = await alice.createRoom(`Bench rota ${i}`);
      await alice.invite(roomId, handover.botUserId);
      for (let tries = 0; (await alice.members(roomId))[handover.botUserId] !== "join"; tries++) {
        if (tries > 150) throw new Error("the bot did not join");
        await sleep(200);
      }
      await alice.send(roomId, "!handover classify operational");
      rooms.push(roomId);
    }
    const db = new pg.Client({ connectionString: stack.databaseUrls.a });
    await db.connect();
    for (const roomId of rooms) {
      await db.query(
        `INSERT INTO retention_policies (id, name, scope_type, scope_value, max_age_ms, warn_before_ms, created_by, updated_by)
         VALUES (gen_random_uuid(), 'Bench', 'room', $1, $2, 0, '@bench:x', '@bench:x')`,
        [roomId, maxAgeMs],
      );
    }
    await db.end();
    const expiries = new Map<string, number>();
    const gone = new Map<string, number>();
    for (const roomId of rooms) {
      // Taken before sending, so the figure errs long: the message's own timestamp is a little later.
      const sentBy = Date.now();
      await alice.send(roomId, "Bench message");
      // The classify command is older still: the last content message's expiry is what counts.
      expiries.set(roomId, sentBy + maxAgeMs);
      await sleep(4_000);
    }
    const deadline = Date.now() + 180_000;
    while (gone.size < rooms.length && Date.now() < deadline) {
      for (const roomId of rooms) {
        if (gone.has(roomId)) continue;
        const bodies = (await alice.messages(roomId)).filter((event) => event.sender === alice.userId);
        if (bodies.length === 0) gone.set(roomId, Date.now());
      }
      await sleep(250);
    }
    if (gone.size < rooms.length) throw new Error("messages were not purged within 180 s");
    const seconds = rooms.map((roomId) => ((gone.get(roomId) as number) - (expiries.get(roomId) as number)) / 1000).sort((a, b) => a - b);
    notes.push(
      `retention: expiry_to_purge_s is the worst of ${rooms.length} rooms (maxAge 5s, default sweepInterval 15s and purgePollInterval 1s), polled every 250 ms from /messages as the sender; all: ${seconds.map((s) => round(s, 1)).join(", ")}`,
    );
    return {
      "retention.expiry_to_purge_s": round(seconds[seconds.length - 1] as number, 1),
      "retention.expiry_to_purge_median_s": round(percentile(seconds, 50), 1),
    };
  } finally {
    await handover.stop();
    await stack.stop();
  }
}

export async function retention(): Promise<SuiteResult> {
  const notes: string[] = [];
  const figures = { ...(await planBench(notes)), ...(await expiryBench(notes)), ...(await purgeBench(notes)) };
  return {
    figures,
    targets: [
      { figure: "retention.plan_10k_rooms_ms", op: "<", value: 1000 },
      { figure: "retention.expiry_to_purge_s", op: "<", value: 60 },
      { figure: "retention.sweep_latency_ratio", op: "<", value: 2 },
    ],
    notes,
  };
}
