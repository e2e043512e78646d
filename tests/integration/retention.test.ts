import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { Handover } from "../../appservice/src/app.js";
import { API, type PolicyDraftInput } from "../../appservice/src/http/contract.js";
import { SWEEP_JOB } from "../../appservice/src/retention/capability.js";
import { PostgresFilingLedger } from "../../appservice/src/storage/filing-ledger-store.js";
import { freshDatabase } from "../support/fresh-database.js";
import { startHandover } from "../support/handover-instance.js";
import { eventually, TestUser } from "../support/matrix-user.js";
import { PortalSession } from "../support/portal-session.js";

const stack = inject("stack");
const trust = stack.trusts.a;
const databaseUrl = await freshDatabase(stack.databaseUrls.a, "retention");

let handover: Handover;
let alice: TestUser; // ig-lead
let bob: TestUser; // a member of every room, no Handover role
let portal: PortalSession;
const db = new pg.Client({ connectionString: databaseUrl });

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A room with alice, bob and the bot, classified by command. */
async function roomOfKind(name: string, kind: "clinical" | "operational"): Promise<string> {
  const roomId = await alice.createRoom(`${name} ${Date.now()}`);
  await alice.invite(roomId, handover.botUserId);
  await alice.invite(roomId, bob.userId);
  await bob.request("POST", `/rooms/${encodeURIComponent(roomId)}/join`, {});
  await eventually("the bot to join", async () => (await alice.members(roomId))[handover.botUserId] === "join");
  await alice.send(roomId, `!handover classify ${kind}`);
  await eventually("the classification", async () => (await handover.rooms.get(roomId))?.kind === kind);
  return roomId;
}

async function roomPolicy(roomId: string, rules: Partial<PolicyDraftInput>): Promise<void> {
  const created = await portal.call(API.createRetentionPolicy, {
    body: { name: `Test policy ${roomId}`, scope: { type: "room", roomId }, maxAge: null, deleteAfterFiling: null, ...rules },
  });
  expect(created.status).toBe(201);
}

const bodies = async (user: TestUser, roomId: string) =>
  (await user.messages(roomId)).filter((event) => event.sender !== handover.botUserId).map((event) => String(event.content.body));
const notices = async (roomId: string) =>
  (await alice.messages(roomId)).filter((event) => event.sender === handover.botUserId).map((event) => String(event.content.body));

/** Waits until Handover has indexed the room's messages (they arrive by transaction), then sweeps. */
async function sweepWhenIndexed(roomId: string, expected: number): Promise<void> {
  await eventually(`${expected} messages indexed`, async () => {
    const { rows } = await db.query("SELECT count(*)::int AS n FROM retention_events WHERE room_id = $1", [roomId]);
    return rows[0].n >= expected;
  });
  await sweep();
}

async function sweep(): Promise<void> {
  expect(await handover.jobs.runNow(SWEEP_JOB)).toBe(true);
}

async function deletions(roomId: string) {
  return (await portal.ok(API.listDeletions, { query: { roomId } })).deletions;
}

beforeAll(async () => {
  alice = await TestUser.register(trust, `ret-alice${Date.now()}`);
  bob = await TestUser.register(trust, `ret-bob${Date.now()}`);
  handover = await startHandover(trust, databaseUrl, {
    roles: { [alice.userId]: "ig-lead" },
    retention: { sweepInterval: "1h", purgePollInterval: "200ms", warningGranularity: "1s" },
  });
  await db.connect();
  portal = await PortalSession.signIn(handover.webPort, alice.userId, alice.user.password);
}, 120_000);

afterAll(async () => {
  await handover?.stop();
  await db.end();
});

describe("retention against a real homeserver", () => {
  it("purges messages past their maximum age, and their media, for every member; newer messages stay", async () => {
    const roomId = await roomOfKind("Rota", "operational");
    await roomPolicy(roomId, { maxAge: "5s" });
    const upload = await fetch(`${trust.clientUrl}/_matrix/media/v3/upload?filename=rota.png`, {
      method: "POST",
      headers: { authorization: `Bearer ${alice.user.accessToken}`, "content-type": "image/png" },
      body: Buffer.from("89504e470d0a1a0a0000000d49484452", "hex"),
    });
    const { content_uri } = (await upload.json()) as { content_uri: string };
    const download = `${trust.clientUrl}/_matrix/client/v1/media/download/${content_uri.slice("mxc://".length)}`;
    const fetchMedia = async () => (await fetch(download, { headers: { authorization: `Bearer ${bob.user.accessToken}` } })).status;
    expect(await fetchMedia()).toBe(200);
    await alice.send(roomId, "Night shift swap agreed");
    await alice.request("PUT", `/rooms/${encodeURIComponent(roomId)}/send/m.room.message/img${Date.now()}`, {
      msgtype: "m.image",
      body: "rota.png",
      url: content_uri,
    });
    await sleep(6_000);
    await bob.send(roomId, "Thanks, noted");

    await sweepWhenIndexed(roomId, 4);

    for (const member of [alice, bob]) expect(await bodies(member, roomId)).toEqual(["Thanks, noted"]);
    expect(await fetchMedia()).toBe(404);
    expect((await notices(roomId)).at(-1)).toMatch(/^3 messages sent up to .* were removed under the retention policy "Test policy/);
    const [record] = await deletions(roomId);
    expect(record).toMatchObject({ events: 3, media: 1, mediaDeleted: 1, actor: "handover:retention", filingRef: null, unfiledEvents: 0 });
    expect(await alice.state(roomId, "m.room.retention")).toEqual({ max_lifetime: 5000 });

    const csv = await portal.fetch(`${API.exportDeletions.path}?roomId=${encodeURIComponent(roomId)}`);
    expect(csv.headers.get("content-type")).toContain("text/csv");
    expect((await csv.text()).split("\r\n")[1]).toContain(roomId);
    const { rows } = await db.query("SELECT actor FROM audit_log WHERE action = 'retention.deleted' AND target = $1", [roomId]);
    expect(rows).toEqual([{ actor: "handover:retention" }]);

    await sweep();
    expect(await deletions(roomId)).toHaveLength(1);
  });

  it("a sweep asked for in the portal runs as the person who asked, and never beside another sweep", async () => {
    const roomId = await roomOfKind("Theatre list", "operational");
    await roomPolicy(roomId, { maxAge: "3s" });
    await alice.send(roomId, "Theatre 2 list moved to 13:00");
    await sleep(4_000);
    await eventually("the message indexed", async () => {
      const { rows } = await db.query("SELECT count(*)::int AS n FROM retention_events WHERE room_id = $1", [roomId]);
      return rows[0].n >= 1;
    });
    type SweepResult = { ran: boolean; deleted: number };
    // While the sweep job's lock is held, a sweep asked for now does not run at all.
    const held = await handover.jobs.runExclusive(SWEEP_JOB, () => portal.call<SweepResult>("POST", "/retention/sweep"));
    expect(held).toMatchObject({ ran: true, value: { status: 200, body: { ran: false, deleted: 0 } } });
    expect(await deletions(roomId)).toEqual([]);

    const swept = await portal.call<SweepResult>("POST", "/retention/sweep");
    // Rooms of earlier tests may have messages due by now too.
    expect(swept.body.ran).toBe(true);
    expect(swept.body.deleted).toBeGreaterThanOrEqual(1);
    expect((await deletions(roomId)).map((record) => record.actor)).toEqual([alice.userId]);
    const { rows } = await db.query("SELECT actor FROM audit_log WHERE action = 'retention.deleted' AND target = $1", [roomId]);
    expect(rows).toEqual([{ actor: alice.userId }]);
  });

  it("deletes filed clinical content after the delay; unfiled content past maximum age survives", async () => {
    const roomId = await roomOfKind("Ward 9 clinical", "clinical");
    await roomPolicy(roomId, { maxAge: "3s", deleteAfterFiling: "2s" });
    await alice.send(roomId, "Mr T: NEWS 5, escalated");
    const filedUpTo = await alice.send(roomId, "Reviewed by registrar, plan in notes");
    await bob.send(roomId, "Bloods back, K+ 5.9");
    const ts = await eventually("the filed event's time", async () => {
      const result = await db.query("SELECT ts FROM retention_events WHERE event_id = $1", [filedUpTo]);
      return result.rows[0]?.ts as Date | undefined;
    });
    // Filed means captured: the filing holds every event up to the filed one.
    const held = await db.query("SELECT event_id, ts FROM retention_events WHERE room_id = $1 AND ts <= $2", [roomId, ts]);
    await new PostgresFilingLedgerFor(databaseUrl).record(
      { roomId, upToEventId: filedUpTo, upToTs: ts, threadRootId: null, filedAt: new Date(), filingRef: `DR-${Date.now()}`, filedBy: alice.userId },
      { captured: held.rows.map((row) => ({ eventId: row.event_id as string, ts: row.ts as Date })), uncaptured: [] },
    );
    await sleep(4_000);
    await sweepWhenIndexed(roomId, 4);

    expect(await bodies(bob, roomId)).toEqual(["Bloods back, K+ 5.9"]);
    const [record] = await deletions(roomId);
    expect(record?.filingRef).toMatch(/^DR-/);
    expect(record).toMatchObject({ events: 3, unfiledEvents: 0 });
    const status = await portal.ok(API.roomRetention, { params: { roomId } });
    expect(status).toMatchObject({ status: "nothing-due", unfiledEvents: 1, filedEvents: 0 });
  });

  it("warns the room once before deleting unfiled clinical content its policy allows deleting", async () => {
    const roomId = await roomOfKind("Ward 3 clinical", "clinical");
    await roomPolicy(roomId, { maxAge: "4s", allowUnfiledDeletion: true, warnBefore: "3s" });
    await alice.send(roomId, "Bed 4 for discharge");
    await bob.send(roomId, "TTOs ready");
    await sleep(3_000);
    await sweepWhenIndexed(roomId, 3);
    await sweep();
    const warnings = (await notices(roomId)).filter((text) => text.includes("have not been filed"));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^3 messages in this room about this patient have not been filed in the record and will be deleted on /);
    expect(await bodies(bob, roomId)).toContain("TTOs ready");

    const due = await eventually("the warned deletion date", async () => {
      const plan = await portal.ok(API.roomRetention, { params: { roomId } });
      return plan.status === "due" ? plan : undefined;
    });
    expect(due.includesUnfiled).toBe(true);
    await sweep();
    expect(await bodies(bob, roomId)).toEqual([]);
    const [record] = await deletions(roomId);
    expect(record).toMatchObject({ events: 3, unfiledEvents: 3 });
    const texts = await notices(roomId);
    expect(texts.findIndex((text) => text.includes("have not been filed"))).toBeLessThan(texts.findIndex((text) => text.includes("were removed")));
  });

  it("legal hold blocks deletion, including of the room's latest message; lifting it resumes deletion", async () => {
    const roomId = await roomOfKind("Theatre list", "operational");
    await roomPolicy(roomId, { maxAge: "3s" });
    await alice.send(roomId, "List starts 08:30");
    const placed = await portal.call(API.placeLegalHold, { params: { roomId }, body: { reason: "Serious incident review SI-42" } });
    expect(placed.status).toBe(200);
    const refused = await portal.call(API.placeLegalHold, { params: { roomId }, body: { reason: "" } });
    expect(refused.status).toBe(400);
    await sleep(4_000);
    await sweepWhenIndexed(roomId, 2);
    expect(await bodies(bob, roomId)).toEqual(["!handover classify operational", "List starts 08:30"]);
    expect((await portal.ok(API.roomRetention, { params: { roomId } })).status).toBe("held");

    expect((await portal.call(API.liftLegalHold, { params: { roomId } })).status).toBe(200);
    await sweep();
    expect(await bodies(bob, roomId)).toEqual([]);
    const { rows } = await db.query("SELECT action, actor FROM audit_log WHERE target = $1 AND action LIKE 'retention.hold.%' ORDER BY seq", [roomId]);
    expect(rows).toEqual([
      { action: "retention.hold.placed", actor: alice.userId },
      { action: "retention.hold.lifted", actor: alice.userId },
    ]);
  });
});

/** Filings are written the way EHR export writes them: through the ledger. */
class PostgresFilingLedgerFor {
  constructor(private readonly url: string) {}
  async record(...filed: Parameters<PostgresFilingLedger["recordFiled"]>): Promise<void> {
    const { createDataSource } = await import("../../appservice/src/storage/data-source.js");
    const source = createDataSource(this.url, 1);
    await source.initialize();
    try {
      await new PostgresFilingLedger(source).recordFiled(...filed);
    } finally {
      await source.destroy();
    }
  }
}
