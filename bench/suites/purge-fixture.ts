/**
 * The purge bench's data: 50 rooms holding 100,000 messages (one of 20,000) on a real Synapse
 * backed by PostgreSQL. Sending 100,000 messages takes minutes, so the Synapse database is built
 * once and kept as a pg_dump under ~/.cache/handover/bench-fixtures, keyed by FIXTURE_VERSION and
 * the Synapse and PostgreSQL versions; each run restores it and copies it (CREATE DATABASE ...
 * TEMPLATE) for every homeserver start, so the naive purge and Handover's sweep meet the same data.
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { homedir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { findPostgresBin, type PostgresServer } from "../../tests/harness/postgres.js";
import { defaultSynapseRoot } from "../../tests/harness/stack.js";
import { registerUser, type SynapseServer, startSynapse } from "../../tests/harness/synapse.js";
import { signingKey } from "../../tests/harness/synapse-config.js";
import { sleep } from "../../tests/harness/util.js";

const execFileAsync = promisify(execFile);

export const FIXTURE_VERSION = "purge-v2";
export const ROOMS = 50;
/**
 * 100,000 messages, a fifth of them in one room. BENCH_PURGE_EVENTS builds a smaller fixture
 * (same shape) where the machine is too loaded to send 100,000 messages in reasonable time.
 */
export const TOTAL_EVENTS = Number(process.env.BENCH_PURGE_EVENTS ?? 100_000);
export const BIG_ROOM_EVENTS = Math.round(TOTAL_EVENTS / 5);
const SERVER_NAME = "purge-bench.test";
const WARD_USER = "ward-nurse";

export interface FixtureRoom {
  roomId: string;
  messages: number;
}

export interface FixtureMeta {
  version: string;
  serverName: string;
  signingKey: string;
  adminPassword: string;
  wardUser: { localpart: string; password: string };
  rooms: FixtureRoom[];
  /** When the last fixture message was sent: a policy's cutoff goes just after it. */
  builtUpTo: number;
  buildSeconds: number;
}

/** Messages per room: the big room first, the rest shared out. */
export function roomSizes(): number[] {
  const rest = TOTAL_EVENTS - BIG_ROOM_EVENTS;
  const others = ROOMS - 1;
  return [BIG_ROOM_EVENTS, ...Array.from({ length: others }, (_, i) => Math.floor(rest / others) + (i < rest % others ? 1 : 0))];
}

function versionKey(): string {
  const root = defaultSynapseRoot();
  const dist = readdirSync(join(root, "usr/lib/python3/dist-packages")).find((name) => name.startsWith("matrix_synapse-")) ?? "synapse-unknown";
  const pgMajor = findPostgresBin().split("/").at(-2) ?? "pg";
  return `${FIXTURE_VERSION}-${TOTAL_EVENTS}-${dist.replace(/\.dist-info$/, "")}-pg${pgMajor}`;
}

function cacheDir(): string {
  const base = process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache");
  return join(base, "handover", "bench-fixtures");
}

function pgArgs(url: string): string[] {
  const u = new URL(url);
  return ["-h", u.hostname, "-p", u.port, "-U", decodeURIComponent(u.username) || "postgres"];
}

/** Synapse with its database on the bench's PostgreSQL (the harness's default is SQLite). */
export async function synapseOnPostgres(postgres: PostgresServer, database: string, meta: Pick<FixtureMeta, "serverName" | "signingKey" | "adminPassword">) {
  const u = new URL(postgres.url);
  const root = defaultSynapseRoot();
  const runDir = join(root, "var/lib/handover-test", `purge-bench-${randomBytes(4).toString("hex")}`);
  mkdirSync(runDir, { recursive: true });
  writeFileSync(join(runDir, "owner.pid"), `${process.pid}\n`);
  return startSynapse({
    root,
    key: "purge",
    runDir: join(runDir, "hs"),
    reuse: meta,
    extraConfig: {
      database: {
        name: "psycopg2",
        args: { user: decodeURIComponent(u.username) || "postgres", host: u.hostname, port: Number(u.port), database, cp_min: 5, cp_max: 10 },
      },
    },
    modules: [],
  });
}

async function databaseClient(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  return client;
}

/** Copies the fixture database for one homeserver start. */
export async function copyFixture(postgres: PostgresServer, from: string, to: string): Promise<void> {
  const admin = await databaseClient(withDatabase(postgres.url, "postgres"));
  try {
    await admin.query(`DROP DATABASE IF EXISTS "${to}" WITH (FORCE)`);
    await admin.query(`CREATE DATABASE "${to}" TEMPLATE "${from}"`);
  } finally {
    await admin.end();
  }
}

export function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

/**
 * A restored database has no planner statistics (pg_restore does not make them, and autovacuum
 * comes later): without them every query Synapse makes on a big room is planned blind, and one
 * send into the 20,000-message room took 4 s. A trust's database has them; so must the fixture
 * (copies made from it as a template keep them).
 */
async function analyse(postgres: PostgresServer, name: string): Promise<void> {
  const client = await databaseClient(withDatabase(postgres.url, name));
  try {
    await client.query("VACUUM ANALYZE");
  } finally {
    await client.end();
  }
}

/**
 * The fixture database `name` on this PostgreSQL, restored from the cache or built (and cached).
 * Returns what the runs need to reach its rooms.
 */
export async function fixtureDatabase(postgres: PostgresServer, name: string, log: (line: string) => void): Promise<FixtureMeta> {
  const key = versionKey();
  const dir = cacheDir();
  const dump = join(dir, `${key}.dump`);
  const metaPath = join(dir, `${key}.json`);
  const admin = await databaseClient(withDatabase(postgres.url, "postgres"));
  try {
    // Synapse wants C collation; the harness's cluster is initialised with --locale=C.
    await admin.query(`CREATE DATABASE "${name}" TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'`);
  } finally {
    await admin.end();
  }
  const bin = findPostgresBin();
  if (existsSync(dump) && existsSync(metaPath)) {
    const started = Date.now();
    await execFileAsync(join(bin, "pg_restore"), [...pgArgs(postgres.url), "-d", name, "--no-owner", dump], { maxBuffer: 64 * 1024 * 1024 });
    await analyse(postgres, name);
    log(`purge fixture ${key} restored from ${dump} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return JSON.parse(readFileSync(metaPath, "utf8")) as FixtureMeta;
  }
  log(`purge fixture ${key}: not cached, building (${TOTAL_EVENTS} messages in ${ROOMS} rooms)`);
  const meta = await build(postgres, name, log);
  await analyse(postgres, name);
  mkdirSync(dir, { recursive: true });
  await execFileAsync(join(bin, "pg_dump"), [...pgArgs(postgres.url), "-Fc", "-f", `${dump}.tmp`, name], { maxBuffer: 64 * 1024 * 1024 });
  renameSync(`${dump}.tmp`, dump);
  writeFileSync(metaPath, `${JSON.stringify({ ...meta, version: key }, null, 2)}\n`);
  return { ...meta, version: key };
}

async function build(postgres: PostgresServer, name: string, log: (line: string) => void): Promise<FixtureMeta> {
  const started = Date.now();
  const identity = { serverName: SERVER_NAME, signingKey: signingKey(), adminPassword: randomBytes(12).toString("hex") };
  const synapse = await synapseOnPostgres(postgres, name, identity);
  // Nothing of Handover runs while the fixture is built: answer Synapse's transactions so none
  // queue up for the first Handover that starts on a copy.
  const sink = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end("{}");
    });
  });
  await new Promise<void>((resolve) => sink.listen(synapse.appservicePort, "127.0.0.1", resolve));
  try {
    const wardPassword = randomBytes(12).toString("hex");
    const ward = await registerUser(synapse, WARD_USER, wardPassword);
    const bot = `@${synapse.registration.sender_localpart}:${synapse.serverName}`;
    const sizes = roomSizes();
    const rooms: FixtureRoom[] = [];
    for (const [i, size] of sizes.entries()) {
      const { room_id } = await call<{ room_id: string }>(synapse, ward.accessToken, "POST", "/_matrix/client/v3/createRoom", {
        name: i === 0 ? "Ward 7 handover (big)" : `Ward room ${i}`,
        preset: "private_chat",
        invite: [bot],
      });
      rooms.push({ roomId: room_id, messages: size });
    }
    let sent = 0;
    let lastLog = Date.now();
    // One message in flight per room, every room at once. Messages sent into one room
    // concurrently fork its event graph: the first fixture sent 48 at a time and left the big
    // room with 12,937 forward extremities, so that every later send into it took 4 s of state
    // resolution, nothing like a ward's room (one extremity, sent one message after another).
    const sender = async (room: FixtureRoom) => {
      for (let n = 0; n < room.messages; n++) {
        await call(synapse, ward.accessToken, "PUT", `/_matrix/client/v3/rooms/${encodeURIComponent(room.roomId)}/send/m.room.message/f${n}`, {
          msgtype: "m.text",
          body: `Handover note ${n + 1}: obs stable, plan unchanged (fixture message)`,
        });
        sent++;
        if (Date.now() - lastLog > 30_000) {
          lastLog = Date.now();
          log(`purge fixture: ${sent} of ${TOTAL_EVENTS} messages sent (${Math.round(sent / ((Date.now() - started) / 1000))}/s)`);
        }
      }
    };
    await Promise.all(rooms.map(sender));
    const builtUpTo = Date.now();
    // The bot joins last, so no transaction carried the fixture's messages to an appservice.
    for (const room of rooms) {
      await call(synapse, synapse.registration.as_token, "POST", `/_matrix/client/v3/join/${encodeURIComponent(room.roomId)}`, {});
    }
    await sleep(2_000);
    const check = await databaseClient(withDatabase(postgres.url, name));
    try {
      const { rows } = await check.query(
        "SELECT coalesce(max(n), 0)::int AS most FROM (SELECT count(*) AS n FROM event_forward_extremities GROUP BY room_id) x",
      );
      if (rows[0].most > 3) throw new Error(`a fixture room has ${rows[0].most} forward extremities: its event graph forked, unlike a ward's room`);
    } finally {
      await check.end();
    }
    const buildSeconds = Math.round((Date.now() - started) / 1000);
    log(`purge fixture built in ${buildSeconds} s`);
    return { version: "", ...identity, wardUser: { localpart: WARD_USER, password: wardPassword }, rooms, builtUpTo, buildSeconds };
  } finally {
    sink.close();
    await synapse.stop();
  }
}

export async function call<T = unknown>(synapse: Pick<SynapseServer, "clientUrl">, token: string, method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${synapse.clientUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text.slice(0, 300)}`);
  return JSON.parse(text) as T;
}
