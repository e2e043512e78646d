/**
 * Purges that never slow clinicians (issue 16.3). On the cached fixture (50 rooms, 100,000
 * messages, one room of 20,000, on Synapse with PostgreSQL) a clinician's client sends a message
 * every PROBE_MS into the big room and times each round trip, first idle, then while:
 *   - naive: one unthrottled purge_history per room, all rooms at once (what an admin script or
 *     Synapse's own retention job does), on one copy of the fixture;
 *   - sliced: Handover's sweep (slices, paced by Synapse's answer times), on another copy.
 * Each run's ratio is its sweep p99 over its own idle p99, measured on the same homeserver start.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createInterface } from "node:readline";
import pg from "pg";
import { startPostgres } from "../../tests/harness/postgres.js";
import type { TrustInfo } from "../../tests/harness/stack.js";
import { login, type SynapseServer } from "../../tests/harness/synapse.js";
import { migrateDatabase, startHandover } from "../../tests/support/handover-instance.js";
import { percentile, round } from "../figures.js";
import { call, copyFixture, type FixtureMeta, fixtureDatabase, synapseOnPostgres, TOTAL_EVENTS } from "./purge-fixture.js";

const PROBE_MS = 100;
const IDLE_MS = 30_000;
/** 500 messages a slice at full size (40 slices for the big room); a smaller fixture keeps the same number of slices. */
const SLICE_EVENTS = Math.max(2, Math.round((500 * TOTAL_EVENTS) / 100_000));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Sample {
  at: number;
  ms: number;
}

/** The clinician's client as a child process; samples arrive as lines. */
function startProbe(clientUrl: string, token: string, roomId: string): { samples: Sample[]; stop: () => Promise<void> } {
  const child: ChildProcess = spawn(process.execPath, ["--import", "tsx", "bench/suites/clinician-probe.ts", clientUrl, token, roomId, String(PROBE_MS)], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const samples: Sample[] = [];
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (line) => {
    const [at, ms, ok] = line.split(" ").map(Number);
    if (ok === 1) samples.push({ at: at as number, ms: ms as number });
  });
  return {
    samples,
    stop: () =>
      new Promise<void>((resolve) => {
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      }),
  };
}

function p99Between(samples: readonly Sample[], from: number, to: number): { p99: number; p50: number; n: number } {
  const window = samples
    .filter((sample) => sample.at >= from && sample.at <= to)
    .map((sample) => sample.ms)
    .sort((a, b) => a - b);
  return { p99: percentile(window, 99), p50: percentile(window, 50), n: window.length };
}

/** CPU seconds of a process (and its reaped children), from /proc. */
function cpuSeconds(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
    // utime, stime, cutime, cstime are fields 14-17 (1-based); after "pid (comm) " that is index 11-14.
    return [11, 12, 13, 14].reduce((sum, i) => sum + Number(fields[i] ?? 0), 0) / 100;
  } catch {
    return Number.NaN;
  }
}

/** CPU seconds of the whole PostgreSQL cluster: the postmaster, its live backends, and reaped ones. */
async function postgresCpu(url: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const backend = (await client.query("SELECT pg_backend_pid() AS pid")).rows[0].pid as number;
    const postmaster = Number(readFileSync(`/proc/${backend}/stat`, "utf8").split(") ")[1]?.split(" ")[1]);
    const children = readFileSync(`/proc/${postmaster}/task/${postmaster}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
    return cpuSeconds(postmaster) + children.reduce((sum, pid) => sum + cpuSeconds(pid), 0);
  } finally {
    await client.end();
  }
}

/**
 * Synapse's own account of its purge tasks (the task scheduler logs each one's wall time, CPU and
 * database transaction time): where the homeserver's time went.
 */
function purgeTaskTotals(logPath: string): { tasks: number; wallS: number; cpuS: number; dbS: number } {
  const totals = { tasks: 0, wallS: 0, cpuS: 0, dbS: 0 };
  const line = /task-purge_history-\S+ - Task complete: ([\d.]+)sec \(([\d.]+)sec, ([\d.]+)sec\) \(([\d.]+)sec\/([\d.]+)sec\/(\d+)\)/;
  for (const text of readFileSync(logPath, "utf8").split("\n")) {
    const match = line.exec(text);
    if (!match) continue;
    totals.tasks++;
    totals.wallS += Number(match[1]);
    totals.cpuS += Number(match[2]) + Number(match[3]);
    totals.dbS += Number(match[4]);
  }
  return totals;
}

interface Phase {
  seconds: number;
  deleted: number;
  idle: { p99: number; p50: number; n: number };
  sweep: { p99: number; p50: number; n: number };
  cpu: { synapse: number; postgres: number; handover: number };
  slices?: number;
  tasks: ReturnType<typeof purgeTaskTotals>;
  /** Handover's pacer, from its metrics: probe answers (slow ones), Synapse busy vs rested seconds. */
  pace?: Awaited<ReturnType<typeof paceOf>>;
  /** Purges Synapse reported failed: the room's size and the error its log gives. */
  failed?: { messages: number; why: string }[];
}

/** The error Synapse logged for a failed purge task (its exception line), or what little is known. */
function purgeFailure(logPath: string, purgeId: string): string {
  const lines = readFileSync(logPath, "utf8").split("\n");
  const at = lines.findIndex((line) => line.includes(purgeId) && /error|fail|exception/i.test(line));
  if (at === -1) return "no error logged for this purge";
  const exception = lines.slice(at, at + 80).find((line) => /^\w+(\.\w+)*(Error|Exception|Cancelled)\b/.test(line.trim()));
  return (exception ?? lines[at] ?? "").trim().slice(0, 300);
}

/** The pacer's account of the sweep, from Handover's own metrics. */
async function paceOf(handover: Awaited<ReturnType<typeof startHandover>>) {
  const metrics = await handover.metrics.registry.getMetricsAsJSON();
  const value = (name: string) => Number((metrics.find((metric) => metric.name === name)?.values[0]?.value as number | undefined) ?? Number.NaN);
  const histogram = metrics.find((metric) => metric.name === "handover_retention_pace_probe_seconds");
  // The probe's median and 99th percentile, to the bucket (upper bound, ms).
  const buckets = (histogram?.values ?? [])
    .filter((entry) => (entry as { metricName?: string }).metricName?.endsWith("_bucket"))
    .map((entry) => ({ le: Number(entry.labels.le), n: entry.value }));
  const total = buckets.at(-1)?.n ?? 0;
  const upTo = (share: number) => (buckets.find((bucket) => bucket.n >= share * total)?.le ?? Number.NaN) * 1000;
  return {
    answers: value("handover_retention_pace_answers"),
    slow: value("handover_retention_pace_slow_answers"),
    busyS: value("handover_retention_pace_busy_seconds"),
    restedS: value("handover_retention_pace_rested_seconds"),
    probeP50UpToMs: upTo(0.5),
    probeP99UpToMs: upTo(0.99),
  };
}

/** The room's latest event: purging up to it deletes everything older (it is kept). */
async function latestEvent(synapse: SynapseServer, roomId: string): Promise<string> {
  const page = await call<{ chunk: { event_id: string }[] }>(
    synapse,
    synapse.admin.accessToken,
    "GET",
    `/_synapse/admin/v1/rooms/${encodeURIComponent(roomId)}/messages?dir=b&limit=1`,
  );
  return page.chunk[0]?.event_id as string;
}

async function measureIdle(synapse: SynapseServer, meta: FixtureMeta) {
  const ward = await login(synapse, meta.wardUser.localpart, meta.wardUser.password);
  const big = meta.rooms[0]?.roomId as string;
  const probe = startProbe(synapse.clientUrl, ward.accessToken, big);
  // The first answers warm Synapse's caches; they are not the idle figure.
  await sleep(3_000);
  const idleFrom = Date.now();
  await sleep(IDLE_MS);
  return { probe, idleFrom, idleTo: Date.now() };
}

async function naiveRun(postgres: Awaited<ReturnType<typeof startPostgres>>, meta: FixtureMeta): Promise<Phase> {
  await copyFixture(postgres, "purge_fixture", "purge_naive");
  const synapse = await synapseOnPostgres(postgres, "purge_naive", meta);
  try {
    const keepFrom = new Map<string, string>();
    for (const room of meta.rooms) keepFrom.set(room.roomId, await latestEvent(synapse, room.roomId));
    const { probe, idleFrom, idleTo } = await measureIdle(synapse, meta);
    const cpuBefore = { synapse: cpuSeconds(synapse.pid), postgres: await postgresCpu(postgres.url) };
    const started = Date.now();
    const purgeIds = await Promise.all(
      meta.rooms.map(
        async (room) =>
          (
            await call<{ purge_id: string }>(
              synapse,
              synapse.admin.accessToken,
              "POST",
              `/_synapse/admin/v1/purge_history/${encodeURIComponent(room.roomId)}`,
              {
                delete_local_events: true,
                purge_up_to_event_id: keepFrom.get(room.roomId),
              },
            )
          ).purge_id,
      ),
    );
    // A purge Synapse reports failed is counted and its cause taken from Synapse's log: what an
    // unthrottled purge does to a big room is part of the comparison, not a reason to stop.
    const roomOf = new Map(purgeIds.map((id, index) => [id, meta.rooms[index] as FixtureMeta["rooms"][number]]));
    const open = new Set(purgeIds);
    const failed: string[] = [];
    while (open.size > 0) {
      await sleep(250);
      for (const id of [...open]) {
        const { status } = await call<{ status: string }>(synapse, synapse.admin.accessToken, "GET", `/_synapse/admin/v1/purge_history_status/${id}`);
        if (status === "failed") failed.push(id);
        if (status === "complete" || status === "failed") open.delete(id);
      }
    }
    const finished = Date.now();
    const cpu = { synapse: cpuSeconds(synapse.pid) - cpuBefore.synapse, postgres: (await postgresCpu(postgres.url)) - cpuBefore.postgres, handover: 0 };
    if (failed.length > 0) {
      mkdirSync("bench/results", { recursive: true });
      copyFileSync(synapse.synapseLogPath, "bench/results/purge-naive-homeserver.log");
    }
    await sleep(1_000);
    await probe.stop();
    return {
      seconds: (finished - started) / 1000,
      deleted: purgeIds.filter((id) => !failed.includes(id)).reduce((sum, id) => sum + (roomOf.get(id)?.messages ?? 0), 0),
      idle: p99Between(probe.samples, idleFrom, idleTo),
      sweep: p99Between(probe.samples, started, finished),
      cpu,
      tasks: purgeTaskTotals(synapse.synapseLogPath),
      failed: failed.map((id) => ({ messages: roomOf.get(id)?.messages ?? 0, why: purgeFailure(synapse.synapseLogPath, id) })),
    };
  } finally {
    await synapse.stop();
  }
}

/** Handover's view of the fixture: rooms the bot has joined, their messages indexed, a policy making them due. */
async function seedHandover(synapseDb: string, handoverDb: string, meta: FixtureMeta): Promise<void> {
  const source = new pg.Client({ connectionString: synapseDb });
  const target = new pg.Client({ connectionString: handoverDb });
  await source.connect();
  await target.connect();
  try {
    const roomIds = meta.rooms.map((room) => room.roomId);
    const { rows } = await source.query(
      "SELECT room_id, event_id, origin_server_ts FROM events WHERE type = 'm.room.message' AND room_id = ANY($1) AND origin_server_ts <= $2",
      [roomIds, meta.builtUpTo],
    );
    await target.query(`INSERT INTO rooms (room_id, name, kind, bot_membership) SELECT r, 'Ward room', 'operational', 'join' FROM unnest($1::text[]) r`, [
      roomIds,
    ]);
    await target.query(
      `INSERT INTO retention_events (room_id, event_id, ts) SELECT r, e, to_timestamp(t / 1000.0) FROM unnest($1::text[], $2::text[], $3::bigint[]) AS x(r, e, t)`,
      [rows.map((row) => row.room_id), rows.map((row) => row.event_id), rows.map((row) => row.origin_server_ts)],
    );
    // Everything the fixture sent is past its maximum age; what the clinician sends now is not.
    const maxAgeMs = Date.now() - meta.builtUpTo - 1_000;
    await target.query(
      `INSERT INTO retention_policies (id, name, scope_type, scope_value, max_age_ms, warn_before_ms, created_by, updated_by)
       SELECT gen_random_uuid(), 'Bench ward policy', 'room', r, $2, 0, '@bench:x', '@bench:x' FROM unnest($1::text[]) r`,
      [roomIds, maxAgeMs],
    );
  } finally {
    await source.end();
    await target.end();
  }
}

async function slicedRun(postgres: Awaited<ReturnType<typeof startPostgres>>, meta: FixtureMeta): Promise<Phase> {
  await copyFixture(postgres, "purge_fixture", "purge_sliced");
  const synapse = await synapseOnPostgres(postgres, "purge_sliced", meta);
  const handoverDb = await postgres.createDatabase();
  try {
    await migrateDatabase(handoverDb);
    const synapseDb = new URL(postgres.url);
    synapseDb.pathname = "/purge_sliced";
    await seedHandover(synapseDb.toString(), handoverDb, meta);
    const { probe, idleFrom, idleTo } = await measureIdle(synapse, meta);
    const cpuBefore = { synapse: cpuSeconds(synapse.pid), postgres: await postgresCpu(postgres.url), handover: process.cpuUsage() };
    const { stop: _stop, ...info } = synapse;
    const trust = { ...info, key: "a" } as TrustInfo;
    const handover = await startHandover(trust, handoverDb, {
      retention: { sweepInterval: "1h", maxPurgesPerSweep: 50, purgeSliceEvents: SLICE_EVENTS, publishRoomRetention: false },
    });
    const db = new pg.Client({ connectionString: handoverDb });
    await db.connect();
    try {
      const deadline = Date.now() + 60 * 60_000;
      for (;;) {
        const { rows } = await db.query("SELECT count(*) FILTER (WHERE state = 'complete')::int AS done, count(*)::int AS n FROM retention_purges");
        if (rows[0].done >= meta.rooms.length) break;
        const failed = await db.query("SELECT room_id, error FROM retention_purges WHERE error IS NOT NULL LIMIT 1");
        if (failed.rows.length > 0) console.warn(`retention-purge: ${JSON.stringify(failed.rows[0])}`);
        if (Date.now() > deadline) throw new Error(`the sweep did not finish: ${JSON.stringify(rows[0])}`);
        await sleep(500);
      }
      const pace = await paceOf(handover);
      const used = process.cpuUsage(cpuBefore.handover);
      const cpu = {
        synapse: cpuSeconds(synapse.pid) - cpuBefore.synapse,
        postgres: (await postgresCpu(postgres.url)) - cpuBefore.postgres,
        handover: (used.user + used.system) / 1e6,
      };
      const { rows } = await db.query(
        "SELECT min(created_at) AS started, max(completed_at) AS finished, sum(event_count)::int AS deleted, sum(purge_requests)::int AS slices FROM retention_purges WHERE state = 'complete'",
      );
      const started = (rows[0].started as Date).getTime();
      const finished = (rows[0].finished as Date).getTime();
      // Synapse's own word: none of the fixture's messages is left.
      const synapseSide = new pg.Client({ connectionString: synapseDb.toString() });
      await synapseSide.connect();
      const left = await synapseSide
        .query("SELECT count(*)::int AS n FROM events WHERE type = 'm.room.message' AND room_id = ANY($1) AND origin_server_ts <= $2", [
          meta.rooms.map((room) => room.roomId),
          meta.builtUpTo,
        ])
        .finally(() => synapseSide.end());
      if (left.rows[0].n !== 0) throw new Error(`${left.rows[0].n} of the fixture's messages are still in Synapse after the sweep`);
      await sleep(1_000);
      await probe.stop();
      // The clinician's round trips beside each room's deletion, to see which work the slow ones met.
      const purges = await db.query("SELECT room_id, event_count, purge_requests, created_at, completed_at FROM retention_purges ORDER BY created_at");
      mkdirSync("bench/results", { recursive: true });
      writeFileSync("bench/results/purge-timeline.json", JSON.stringify({ samples: probe.samples, purges: purges.rows }));
      return {
        seconds: (finished - started) / 1000,
        deleted: rows[0].deleted as number,
        idle: p99Between(probe.samples, idleFrom, idleTo),
        sweep: p99Between(probe.samples, started, finished),
        cpu,
        slices: rows[0].slices as number,
        tasks: purgeTaskTotals(synapse.synapseLogPath),
        pace,
      };
    } finally {
      await db.end();
      await handover.stop();
    }
  } finally {
    await synapse.stop();
  }
}

export async function purgeBench(notes: string[]): Promise<Record<string, number>> {
  const postgres = await startPostgres();
  try {
    const meta = await fixtureDatabase(postgres, "purge_fixture", (line) => console.log(`bench: ${line}`));
    const total = meta.rooms.reduce((sum, room) => sum + room.messages, 0);
    const naive = await naiveRun(postgres, meta);
    const sliced = await slicedRun(postgres, meta);
    // The sweep may delete a few more than the fixture: messages the probe sent long enough ago to be due too.
    if (sliced.deleted < total) throw new Error(`the sweep deleted ${sliced.deleted} messages, the fixture has ${total}`);
    const ratio = (phase: Phase) => phase.sweep.p99 / phase.idle.p99;
    notes.push(
      `retention: purge sweep over ${meta.rooms.length} rooms / ${total} messages (biggest ${meta.rooms[0]?.messages}) on Synapse with PostgreSQL, fixture ${meta.version}; ` +
        `a clinician sends into the biggest room every ${PROBE_MS} ms (idle ${IDLE_MS / 1000} s first, on the same homeserver start). ` +
        `Sliced (Handover, ${SLICE_EVENTS} messages a slice, ${sliced.slices} purge calls): ${round(sliced.seconds)} s, p50/p99 idle ${round(sliced.idle.p50)}/${round(sliced.idle.p99)} ms (n=${sliced.idle.n}), during ${round(sliced.sweep.p50)}/${round(sliced.sweep.p99)} ms (n=${sliced.sweep.n}); ` +
        `CPU s synapse ${round(sliced.cpu.synapse)}, postgres ${round(sliced.cpu.postgres)}, handover (bench process) ${round(sliced.cpu.handover)}; ` +
        `Synapse purge tasks ${sliced.tasks.tasks}: ${round(sliced.tasks.wallS)} s wall, ${round(sliced.tasks.cpuS)} s CPU, ${round(sliced.tasks.dbS)} s in database transactions; ` +
        `pacer: Synapse busy ${round(sliced.pace?.busyS ?? Number.NaN)} s, rested ${round(sliced.pace?.restedS ?? Number.NaN)} s, probe answers ${sliced.pace?.answers} (${sliced.pace?.slow} slow), probe p50/p99 up to ${sliced.pace?.probeP50UpToMs}/${sliced.pace?.probeP99UpToMs} ms. ` +
        `Naive (one purge_history per room, all at once): ${round(naive.seconds)} s, ${naive.failed?.length ?? 0} purge(s) failed in Synapse${(naive.failed ?? []).map((failure) => ` (a room of ${failure.messages} messages: ${failure.why})`).join("")}${naive.failed?.length ? ", its log kept in bench/results/purge-naive-homeserver.log" : ""}, p50/p99 idle ${round(naive.idle.p50)}/${round(naive.idle.p99)} ms (n=${naive.idle.n}), during ${round(naive.sweep.p50)}/${round(naive.sweep.p99)} ms (n=${naive.sweep.n}); ` +
        `CPU s synapse ${round(naive.cpu.synapse)}, postgres ${round(naive.cpu.postgres)}; ` +
        `Synapse purge tasks ${naive.tasks.tasks}: ${round(naive.tasks.wallS)} s wall, ${round(naive.tasks.cpuS)} s CPU, ${round(naive.tasks.dbS)} s in database transactions`,
    );
    return {
      "retention.sweep_latency_ratio": round(ratio(sliced), 2),
      "retention.purged_events_per_s": round(sliced.deleted / sliced.seconds, 0),
      "retention.sweep_idle_p99_ms": round(sliced.idle.p99, 1),
      "retention.sweep_p99_ms": round(sliced.sweep.p99, 1),
      "retention.sweep_s": round(sliced.seconds, 1),
      "retention.sweep_events": sliced.deleted,
      "retention.naive_latency_ratio": round(ratio(naive), 2),
      "retention.naive_purged_events_per_s": round(naive.deleted / naive.seconds, 0),
      "retention.naive_idle_p99_ms": round(naive.idle.p99, 1),
      "retention.naive_p99_ms": round(naive.sweep.p99, 1),
      "retention.naive_s": round(naive.seconds, 1),
      "retention.naive_failed_purges": naive.failed?.length ?? 0,
      "retention.naive_events": naive.deleted,
    };
  } finally {
    await postgres.stop();
  }
}
