import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { stringify } from "yaml";
import { buildRegistration, renderRegistration } from "../../appservice/src/matrix/registration.js";
import { startPostgres } from "../../tests/harness/postgres.js";
import { freePorts } from "../../tests/harness/util.js";
import { migrateDatabase } from "../../tests/support/handover-instance.js";
import { percentile, round, type SuiteResult } from "../figures.js";
import { HANDOVER_NODE_FLAGS, HANDOVER_NODE_FLAGS_TEXT } from "../node-flags.js";
import { ingestThroughSynapse } from "./ingest-synapse.js";

const EVENTS_PER_TXN = 100;
const WARMUP_TXNS = 20;
const MEASURED_TXNS = 300;

function syntheticTransaction(txn: number, roomCount = 50): { events: unknown[] } {
  const events = [];
  for (let i = 0; i < EVENTS_PER_TXN; i++) {
    const n = txn * EVENTS_PER_TXN + i;
    events.push({
      event_id: `$bench-${n}`,
      room_id: `!room${n % roomCount}:bench.test`,
      sender: `@user${n % 97}:bench.test`,
      type: "m.room.message",
      origin_server_ts: Date.now(),
      content: { msgtype: "m.text", body: `Obs stable, NEWS 2, plan reviewed (${n})` },
    });
  }
  return { events };
}

function rssMb(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)?.[1] ?? Number.NaN);
  return { rss: kb("VmRSS") / 1024, peak: kb("VmHWM") / 1024 };
}

async function waitForHttp(url: string, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`handover exited early:\n${log()}`);
    try {
      if ((await fetch(url)).ok) return;
    } catch {}
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`handover did not answer ${url}:\n${log()}`);
}

/**
 * Synthetic homeserver transactions of 100 events posted one after another (as Synapse sends
 * them) to a real `handover serve` process backed by a real PostgreSQL. Events count as
 * ingested when acknowledged and handled (the inbox is empty again).
 */
export async function ingest(): Promise<SuiteResult> {
  const direct = await ingestDirect();
  // The same Handover behind a real Synapse, as one process and as main process plus workers.
  const single = await ingestThroughSynapse(false);
  const workers = await ingestThroughSynapse(true);
  return {
    figures: {
      ...direct.figures,
      "ingest.synapse_single.events_per_s": single.eventsPerS,
      "ingest.synapse_single.p50_ms": single.p50Ms,
      "ingest.synapse_single.p99_ms": single.p99Ms,
      "ingest.synapse_workers.events_per_s": workers.eventsPerS,
      "ingest.synapse_workers.p50_ms": workers.p50Ms,
      "ingest.synapse_workers.p99_ms": workers.p99Ms,
    },
    targets: direct.targets,
    notes: [
      ...(direct.notes ?? []),
      `ingest: synapse_single / synapse_workers: ${single.events} messages from 4 clients at once, each into its own clinical room, through a real Synapse (one process / main process plus five workers, Redis and a router) to Handover's event index; p50/p99 from Synapse's answer to the sender to indexed (polled every 20 ms)`,
    ],
  };
}

async function ingestDirect(): Promise<SuiteResult> {
  const dir = mkdtempSync(join(tmpdir(), "handover-bench-ingest-"));
  const postgres = await startPostgres();
  const [asPort, webPort, hsPort] = await freePorts(3);
  const registration = buildRegistration({ id: "handover", url: `http://127.0.0.1:${asPort}`, serverName: "bench.test", botLocalpart: "handover" });
  writeFileSync(join(dir, "registration.yaml"), renderRegistration(registration));
  const config = {
    // Nothing listens here: ordinary messages need no homeserver call.
    homeserver: { serverName: "bench.test", url: `http://127.0.0.1:${hsPort}`, adminAccessToken: "unused" },
    appservice: { port: asPort, url: `http://127.0.0.1:${asPort}`, registrationFile: join(dir, "registration.yaml") },
    database: { url: postgres.url },
    web: { port: webPort, publicUrl: `http://127.0.0.1:${webPort}` },
    logging: { level: "warn" },
  };
  writeFileSync(join(dir, "config.yaml"), stringify(config));
  await migrateDatabase(postgres.url);
  let output = "";
  const child = spawn(process.execPath, [...HANDOVER_NODE_FLAGS, "appservice/dist/cli.js", "serve", "--config", join(dir, "config.yaml")], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const db = new pg.Client({ connectionString: postgres.url });
  try {
    await waitForHttp(`http://127.0.0.1:${webPort}/healthz`, child, () => output);
    await db.connect();
    const send = async (txn: number) => {
      const started = performance.now();
      const response = await fetch(`http://127.0.0.1:${asPort}/_matrix/app/v1/transactions/bench-${txn}`, {
        method: "PUT",
        headers: { authorization: `Bearer ${registration.hs_token}`, "content-type": "application/json" },
        body: JSON.stringify(syntheticTransaction(txn)),
      });
      await response.arrayBuffer();
      if (!response.ok) throw new Error(`transaction ${txn} answered ${response.status}`);
      return performance.now() - started;
    };
    const drained = async () => {
      const deadline = Date.now() + 120_000;
      for (;;) {
        if (Date.now() > deadline) throw new Error("events were not all handled within 2 minutes");
        const { rows } = await db.query("SELECT count(*)::int AS n FROM inbound_events");
        if (rows[0].n === 0) return;
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    };
    for (let txn = 0; txn < WARMUP_TXNS; txn++) await send(txn);
    await drained();
    const acks: number[] = [];
    const started = performance.now();
    let peakRss = 0;
    for (let txn = WARMUP_TXNS; txn < WARMUP_TXNS + MEASURED_TXNS; txn++) {
      acks.push(await send(txn));
      if (txn % 25 === 0) peakRss = Math.max(peakRss, rssMb(child.pid as number).rss);
    }
    await drained();
    const seconds = (performance.now() - started) / 1000;
    const { peak } = rssMb(child.pid as number);
    const { rows } = await db.query("SELECT count(*)::int AS n FROM appservice_transactions");
    if (rows[0].n !== WARMUP_TXNS + MEASURED_TXNS) throw new Error(`expected ${WARMUP_TXNS + MEASURED_TXNS} stored transactions, found ${rows[0].n}`);
    acks.sort((a, b) => a - b);
    return {
      figures: {
        "ingest.events_per_s": round((MEASURED_TXNS * EVENTS_PER_TXN) / seconds, 0),
        "ingest.p50_ack_ms": round(percentile(acks, 50), 2),
        "ingest.p99_ack_ms": round(percentile(acks, 99), 2),
        "ingest.rss_mb": round(Math.max(peakRss, peak), 1),
        "ingest.events": MEASURED_TXNS * EVENTS_PER_TXN,
      },
      targets: [
        { figure: "ingest.events_per_s", op: ">=", value: 2000 },
        { figure: "ingest.p99_ack_ms", op: "<", value: 50 },
        { figure: "ingest.rss_mb", op: "<", value: 150 },
      ],
      notes: [
        `ingest: rss_mb is the peak resident set (VmHWM) of a "handover serve" process running the compiled appservice with ${HANDOVER_NODE_FLAGS_TEXT}`,
        `ingest: ${MEASURED_TXNS} transactions of ${EVENTS_PER_TXN} events sent one after another, as Synapse does; events_per_s counts until all are handled`,
      ],
    };
  } finally {
    child.kill("SIGTERM");
    await new Promise((resolve) => child.once("exit", resolve));
    await db.end().catch(() => undefined);
    await postgres.stop();
  }
}
