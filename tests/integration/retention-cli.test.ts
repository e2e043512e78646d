import { execFile } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { Handover } from "../../appservice/src/app.js";
import { configYaml } from "../support/config-yaml.js";
import { freshDatabase } from "../support/fresh-database.js";
import { startHandover } from "../support/handover-instance.js";
import { eventually, TestUser } from "../support/matrix-user.js";

const run = promisify(execFile);
const stack = inject("stack");
const trust = stack.trusts.a;
const databaseUrl = await freshDatabase(stack.databaseUrls.a, "retention_cli");

let handover: Handover;
let alice: TestUser;
let roomId: string;

beforeAll(async () => {
  alice = await TestUser.register(trust, `alice-rcli-${Date.now()}`);
  handover = await startHandover(trust, databaseUrl, { roles: { [alice.userId]: "admin" }, retention: { sweepInterval: "1h" } });
  roomId = await alice.createRoom("Ward 12 clinical");
  await alice.invite(roomId, handover.botUserId);
  await eventually("the bot to join", async () => (await alice.members(roomId))[handover.botUserId] === "join");
  await alice.send(roomId, "!handover classify clinical");
  await eventually("the room to be classified", async () => (await handover.rooms.get(roomId))?.kind === "clinical");
  await alice.send(roomId, "Obs stable overnight");
  await alice.send(roomId, "Plan: review bloods at 10");
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  await eventually("the messages to be indexed", async () => {
    const { rows } = await db.query("SELECT count(*)::int AS n FROM retention_events WHERE room_id = $1", [roomId]);
    return rows[0].n >= 3;
  });
  await db.end();
});

afterAll(async () => {
  await handover?.stop();
});

describe("`handover retention plan`", () => {
  it("shows, per room, its policy, status and unfiled content, and changes nothing", async () => {
    const dir = mkdtempSync(join(tmpdir(), "handover-cli-"));
    const configPath = join(dir, "config.yaml");
    writeFileSync(configPath, configYaml({ ...handover.config, web: { ...handover.config.web, portalDir: undefined } }));
    const cli = (...args: string[]) =>
      run(process.execPath, ["--import", "tsx", "appservice/src/cli.ts", "retention", "plan", ...args, "--config", configPath]);
    const { stdout } = await cli();
    expect(stdout).toContain(roomId);
    expect(stdout).toMatch(/kind: clinical {2}policy: .+ {2}status: /);
    expect(stdout).toMatch(/unfiled: [1-9]/);
    expect(stdout).toMatch(/\d+ room\(s\); 0 due now/);
    const json = JSON.parse((await cli("--json")).stdout) as { roomId: string; kind: string; unfiledEvents: number; status: string }[];
    expect(json.find((plan) => plan.roomId === roomId)).toMatchObject({ kind: "clinical", status: expect.any(String) });
    expect(json.find((plan) => plan.roomId === roomId)?.unfiledEvents).toBeGreaterThanOrEqual(2);
    // A dry run: every message is still there.
    expect((await alice.messages(roomId)).map((event) => event.content.body)).toEqual(
      expect.arrayContaining(["Obs stable overnight", "Plan: review bloods at 10"]),
    );
  });
});
