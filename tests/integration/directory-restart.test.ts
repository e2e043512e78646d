import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { Handover } from "../../appservice/src/app.js";
import { type SlapdServer, startSlapd } from "../harness/slapd.js";
import { configYaml } from "../support/config-yaml.js";
import { configFor, type InstanceOptions, migrateDatabase, startHandover } from "../support/handover-instance.js";
import { eventually, TestUser } from "../support/matrix-user.js";

const stack = inject("stack");
const trust = stack.trusts.a;
const tag = `r${Date.now().toString(36)}`;
const PEOPLE = 8;

let slapd: SlapdServer;
let databaseUrl: string;
let alice: TestUser;
let roomId: string;
let child: ChildProcess | undefined;
let handover: Handover | undefined;
let db: pg.Client;
const dir = mkdtempSync(join(tmpdir(), "handover-directory-restart-"));

function options(): InstanceOptions {
  return {
    directory: {
      schedule: "1h",
      exempt: [alice.userId],
      // Slow enough to kill the process half way through.
      writesPerSecond: 2,
      ldap: [
        {
          name: "ad",
          url: slapd.url,
          bindDn: slapd.bindDn,
          bindPassword: slapd.bindPassword,
          userBase: `ou=people,${slapd.baseDn}`,
          userFilter: "(objectClass=inetOrgPerson)",
          groupBase: `ou=groups,${slapd.baseDn}`,
          usernameAttribute: "uid",
        },
      ],
    },
  };
}

const staffIds = () => Array.from({ length: PEOPLE }, (_, i) => `@s${i}${tag}:${trust.serverName}`);

beforeAll(async () => {
  slapd = await startSlapd();
  // A database of its own: this file's runs and identities must not meet the other files'.
  databaseUrl = await createDatabase(stack.databaseUrls.a, `handover_dir_${tag}`);
  alice = await TestUser.register(trust, `ralice${tag}`);
  const members: string[] = [];
  for (let i = 0; i < PEOPLE; i++) {
    await TestUser.register(trust, `s${i}${tag}`);
    const dn = `uid=s${i}${tag},ou=people,${slapd.baseDn}`;
    await slapd.add(dn, { objectClass: ["inetOrgPerson"], uid: `s${i}${tag}`, cn: `s${i}`, sn: `s${i}` });
    members.push(dn);
  }
  await slapd.add(`cn=Theatres,ou=groups,${slapd.baseDn}`, { objectClass: ["groupOfNames"], cn: "Theatres", member: members });
  roomId = await alice.createRoom("Theatres");
  await migrateDatabase(databaseUrl);
  db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  const rule = { id: "theatres", description: "", group: "Theatres", attribute: null, rooms: [roomId], joinMode: "invite", power: [], enabled: true };
  await db.query("INSERT INTO directory_rules (id, rule) VALUES ($1, $2)", [rule.id, JSON.stringify(rule)]);
}, 240_000);

afterAll(async () => {
  child?.kill("SIGKILL");
  await handover?.stop();
  await db?.end();
  await slapd?.stop();
  const admin = new pg.Client({ connectionString: stack.databaseUrls.a });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS "handover_dir_${tag}" WITH (FORCE)`);
  await admin.end();
  rmSync(dir, { recursive: true, force: true });
});

async function createDatabase(adminUrl: string, name: string): Promise<string> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  await client.query(`CREATE DATABASE "${name}"`);
  await client.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

async function inviteEvents(): Promise<Map<string, number>> {
  const events = await alice.request<{ chunk: { type: string; state_key?: string; content: { membership?: string } }[] }>(
    "GET",
    `/rooms/${encodeURIComponent(roomId)}/messages?dir=b&limit=500`,
  );
  const counts = new Map<string, number>();
  for (const event of events.chunk) {
    if (event.type === "m.room.member" && event.content.membership === "invite" && event.state_key) {
      counts.set(event.state_key, (counts.get(event.state_key) ?? 0) + 1);
    }
  }
  return counts;
}

describe("directory sync killed mid-run", () => {
  it("converges after a restart with no action done twice", async () => {
    const config = await configFor(trust, databaseUrl, options());
    const configPath = join(dir, "config.yaml");
    writeFileSync(configPath, configYaml({ ...config, web: { ...config.web, portalDir: undefined } }));
    let output = "";
    child = spawn(process.execPath, ["--import", "tsx", "appservice/src/cli.ts", "serve", "--config", configPath], { stdio: ["ignore", "pipe", "pipe"] });
    child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));

    // The run at start-up begins applying; kill the process outright after a few writes.
    await eventually(
      `a few invites applied (output so far: ${output.slice(-500)})`,
      async () => {
        const { rows } = await db.query("SELECT count(*)::int AS n FROM directory_run_actions WHERE outcome = 'done'");
        return rows[0].n >= 3;
      },
      60_000,
    );
    child.kill("SIGKILL");
    await new Promise((resolve) => child?.once("exit", resolve));
    const { rows: before } = await db.query("SELECT id, status FROM directory_runs ORDER BY id");
    expect(before.at(-1)?.status).toBe("applying");
    const invitedBefore = await inviteEvents();
    expect(invitedBefore.size).toBeGreaterThanOrEqual(3);
    expect(invitedBefore.size).toBeLessThan(PEOPLE);

    handover = await startHandover(trust, databaseUrl, options());
    await eventually(
      "every member invited",
      async () => {
        const members = await alice.members(roomId);
        return staffIds().every((userId) => members[userId] === "invite");
      },
      60_000,
    );
    await eventually("the new run to finish", async () => {
      const { rows } = await db.query("SELECT status FROM directory_runs ORDER BY id");
      return rows.length === 2 && rows[1].status === "applied" ? rows : undefined;
    });
    const { rows: runs } = await db.query("SELECT status FROM directory_runs ORDER BY id");
    expect(runs.map((row) => row.status)).toEqual(["interrupted", "applied"]);
    const invited = await inviteEvents();
    for (const userId of staffIds()) expect(invited.get(userId)).toBe(1);
    const { rows: audited } = await db.query(
      "SELECT target, count(*)::int AS n FROM audit_log WHERE action = 'directory.member.invite' GROUP BY target HAVING count(*) > 1",
    );
    expect(audited).toEqual([]);
    const { rows: interrupted } = await db.query("SELECT count(*)::int AS n FROM audit_log WHERE action = 'directory.run.interrupted'");
    expect(interrupted[0].n).toBe(1);
  });
});
