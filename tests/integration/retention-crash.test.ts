import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { Handover } from "../../appservice/src/app.js";
import { configYaml } from "../support/config-yaml.js";
import { freshDatabase } from "../support/fresh-database.js";
import { configFor, startHandover } from "../support/handover-instance.js";
import { eventually, TestUser } from "../support/matrix-user.js";

const stack = inject("stack");
const trust = stack.trusts.a;
const databaseUrl = await freshDatabase(stack.databaseUrls.a, "retention_crash");
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let handover: Handover | null = null;
let child: ChildProcess | null = null;
let alice: TestUser;
const db = new pg.Client({ connectionString: databaseUrl });
// A slow poll keeps the purge in its "purging" state long enough to kill the process there.
const retention = { sweepInterval: "1h", purgeFirstPoll: "3s", purgePollInterval: "3s", warningGranularity: "1s" };

beforeAll(async () => {
  alice = await TestUser.register(trust, `crash-alice${Date.now()}`);
  await db.connect();
});

afterAll(async () => {
  child?.kill("SIGKILL");
  await handover?.stop();
  await db.end();
});

describe("retention sweep killed mid-purge", () => {
  it("resumes after a restart: no second purge, one notice, a complete evidence record", async () => {
    handover = await startHandover(trust, databaseUrl, { roles: { [alice.userId]: "admin" }, retention });
    const roomId = await alice.createRoom(`Crash test ${Date.now()}`);
    await alice.invite(roomId, handover.botUserId);
    await eventually("the bot to join", async () => (await alice.members(roomId))[handover?.botUserId ?? ""] === "join");
    await alice.send(roomId, "!handover classify operational");
    await eventually("the classification", async () => (await handover?.rooms.get(roomId))?.kind === "operational");
    await db.query(
      `INSERT INTO retention_policies (id, name, scope_type, scope_value, max_age_ms, warn_before_ms, created_by, updated_by)
       VALUES (gen_random_uuid(), 'Crash test', 'room', $1, 3000, 0, $2, $2)`,
      [roomId, alice.userId],
    );
    const upload = await fetch(`${trust.clientUrl}/_matrix/media/v3/upload?filename=x.png`, {
      method: "POST",
      headers: { authorization: `Bearer ${alice.user.accessToken}`, "content-type": "image/png" },
      body: Buffer.from("89504e470d0a1a0a", "hex"),
    });
    const { content_uri } = (await upload.json()) as { content_uri: string };
    await alice.send(roomId, "first");
    await alice.request("PUT", `/rooms/${encodeURIComponent(roomId)}/send/m.room.message/img${Date.now()}`, {
      msgtype: "m.image",
      body: "x.png",
      url: content_uri,
    });
    await eventually("messages indexed", async () => {
      const { rows } = await db.query("SELECT count(*)::int AS n FROM retention_events WHERE room_id = $1", [roomId]);
      return rows[0].n >= 3;
    });
    await handover.stop();
    handover = null;
    await sleep(3_500);

    // A real `handover serve` process, sweeping at start, killed with SIGKILL while its purge runs.
    const dir = mkdtempSync(join(tmpdir(), "handover-crash-"));
    const config = await configFor(trust, databaseUrl, { roles: { [alice.userId]: "admin" }, retention });
    writeFileSync(join(dir, "config.yaml"), configYaml(config));
    let output = "";
    child = spawn(process.execPath, ["--import", "tsx", "appservice/src/cli.ts", "serve", "-c", join(dir, "config.yaml")], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const killedAt = await eventually(
      "the purge to be running",
      async () => {
        const { rows } = await db.query("SELECT state FROM retention_purges WHERE room_id = $1", [roomId]);
        if (rows[0]?.state === "purging") {
          child?.kill("SIGKILL");
          return rows[0].state as string;
        }
        if (rows[0]?.state === "complete") throw new Error(`completed before it could be killed:\n${output}`);
        return undefined;
      },
      90_000,
    );
    expect(killedAt).toBe("purging");
    await new Promise((resolve) => (child?.exitCode !== null ? resolve(null) : child?.once("exit", resolve)));
    child = null;

    handover = await startHandover(trust, databaseUrl, { roles: { [alice.userId]: "admin" }, retention });
    const record = await eventually(
      "the resumed purge to complete",
      async () => {
        const { rows } = await db.query("SELECT * FROM retention_purges WHERE room_id = $1", [roomId]);
        return rows.length === 1 && rows[0].state === "complete" ? rows[0] : undefined;
      },
      60_000,
    );
    expect(record).toMatchObject({ purge_requests: 1, event_count: 3, media_deleted: 1, actor: "handover:retention" });
    expect(record.media).toEqual([content_uri]);
    const messages = await alice.messages(roomId);
    expect(messages.filter((event) => event.sender !== handover?.botUserId)).toEqual([]);
    expect(messages.filter((event) => String(event.content.body).includes("were removed"))).toHaveLength(1);
    const { rows } = await db.query("SELECT count(*)::int AS n FROM audit_log WHERE action = 'retention.deleted' AND target = $1", [roomId]);
    expect(rows[0].n).toBe(1);
  });
});
