import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createSocket } from "node:dgram";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { Handover } from "../../appservice/src/app.js";
import { ANCHOR_JOB } from "../../appservice/src/audit/capability.js";
import { ANCHOR_CONTENT_KEY } from "../../appservice/src/audit/matrix-audit-room.js";
import { hashRecord } from "../../appservice/src/domain/audit/chain.js";
import { configYaml } from "../support/config-yaml.js";
import { freshDatabase } from "../support/fresh-database.js";
import { startHandover } from "../support/handover-instance.js";
import { eventually, TestUser } from "../support/matrix-user.js";

const run = promisify(execFile);
const stack = inject("stack");
const trust = stack.trusts.a;
const databaseUrl = await freshDatabase(stack.databaseUrls.a, "audit_anchor");
const botUserId = `@${trust.registration.sender_localpart}:${trust.serverName}`;

let handover: Handover;
let alice: TestUser;
let roomId: string;
let configPath: string;
const syslog = createSocket("udp4");
const syslogMessages: string[] = [];

/** `handover audit verify`, the real CLI, against the instance's config. */
async function auditVerify(): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ["--import", "tsx", "appservice/src/cli.ts", "audit", "verify", "--config", configPath]);
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

async function anchorsInRoom(): Promise<{ eventId: string; seq: number; hash: string }[]> {
  const events = await alice.timeline(roomId);
  return events
    .filter((event) => event.sender === botUserId && event.type === "m.room.message" && event.content[ANCHOR_CONTENT_KEY])
    .map((event) => {
      const anchor = event.content[ANCHOR_CONTENT_KEY] as { seq: number; hash: string };
      return { eventId: event.event_id, seq: anchor.seq, hash: anchor.hash };
    });
}

beforeAll(async () => {
  await new Promise<void>((resolve) => syslog.bind(0, "127.0.0.1", resolve));
  syslog.on("message", (message) => syslogMessages.push(message.toString()));
  alice = await TestUser.register(trust, `alice-audit-${Date.now()}`);
  // The trust's IG lead makes the audit room (not encrypted) and invites the bot once.
  roomId = await alice.createRoom("Handover audit anchors");
  await alice.invite(roomId, botUserId);
  handover = await startHandover(trust, databaseUrl, {
    audit: {
      room: roomId,
      anchorEvery: "1h",
      signingKey: randomBytes(32).toString("base64"),
      syslog: { host: "127.0.0.1", port: syslog.address().port, protocol: "udp" },
    },
  });
  const dir = mkdtempSync(join(tmpdir(), "handover-audit-"));
  configPath = join(dir, "config.yaml");
  writeFileSync(configPath, configYaml({ ...handover.config, web: { ...handover.config.web, portalDir: undefined } }));
});

afterAll(async () => {
  await handover?.stop();
  syslog.close();
});

describe("audit trail anchored outside the database", () => {
  it("posts signed anchors to the audit room and syslog; `audit verify` checks the chain against them", async () => {
    for (let i = 0; i < 3; i++)
      await handover.audit.record({ actor: "@ig.lead:trust-a.test", action: "room.classify", target: `!ward${i}:a`, details: { kind: "clinical" } });
    await eventually("an anchor run of its own (after the one at start)", () => handover.jobs.runNow(ANCHOR_JOB));
    for (let i = 3; i < 5; i++)
      await handover.audit.record({ actor: "@ig.lead:trust-a.test", action: "room.classify", target: `!ward${i}:a`, details: { kind: "operational" } });
    await eventually("an anchor run of its own (after the one at start)", () => handover.jobs.runNow(ANCHOR_JOB));

    const anchors = await anchorsInRoom();
    expect(anchors.length).toBeGreaterThanOrEqual(2);
    expect(anchors[anchors.length - 1]?.seq).toBe((await handover.audit.page({ limit: 1 })).entries[0]?.seq);
    const last = anchors[anchors.length - 1];
    expect(syslogMessages.some((message) => message.startsWith("<109>1 ") && message.includes(`seq="${last?.seq}" hash="${last?.hash}"`))).toBe(true);

    const verified = await auditVerify();
    expect(verified.stderr).toBe("");
    expect(verified.code).toBe(0);
    expect(verified.stdout).toContain("audit trail intact");
    expect(verified.stdout).toContain(`matches all ${anchors.length} anchor(s)`);
  });

  it("`audit verify` detects a chain rewritten consistently inside the database, and names the anchor it broke", async () => {
    const anchors = await anchorsInRoom();
    const firstAnchor = anchors[0];
    if (!firstAnchor) throw new Error("no anchor in the room");
    // The database owner rewrites entry 1 and re-hashes every entry after it, and the head.
    const owner = new pg.Client({ connectionString: databaseUrl });
    await owner.connect();
    try {
      await owner.query("BEGIN");
      await owner.query("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_change");
      const { rows } = await owner.query("SELECT seq, at, actor, action, target, details FROM audit_log ORDER BY seq");
      let prevHash = "0".repeat(64);
      for (const row of rows as { seq: string; at: Date; actor: string; action: string; target: string; details: Record<string, unknown> }[]) {
        const record = { seq: Number(row.seq), at: row.at, actor: row.actor, action: row.action, target: row.target, details: row.details };
        if (record.seq === 1) record.actor = "@someone.else:trust-a.test";
        const hash = hashRecord(record, prevHash);
        await owner.query("UPDATE audit_log SET actor = $2, prev_hash = $3, hash = $4 WHERE seq = $1", [record.seq, record.actor, prevHash, hash]);
        prevHash = hash;
      }
      await owner.query("UPDATE audit_head SET hash = $1 WHERE id = 1", [prevHash]);
      await owner.query("ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_change");
      await owner.query("COMMIT");
    } finally {
      await owner.end();
    }
    // The rewrite is consistent: the chain alone no longer tells.
    expect((await handover.audit.verify()).ok).toBe(true);

    const verified = await auditVerify();
    expect(verified.code).toBe(1);
    expect(verified.stderr).toContain("audit trail BROKEN");
    expect(verified.stderr).toContain(`the chain was rewritten: it no longer matches anchor ${firstAnchor.eventId} (entry ${firstAnchor.seq}`);
  });
});
