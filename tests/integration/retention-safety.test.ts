import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { Handover } from "../../appservice/src/app.js";
import type { DeletionList, PolicyDraftInput, RetentionPolicyView } from "../../appservice/src/http/contract.js";
import type { PurgeProblemList } from "../../appservice/src/http/contract-retention.js";
import { SWEEP_JOB } from "../../appservice/src/retention/capability.js";
import { createDataSource } from "../../appservice/src/storage/data-source.js";
import { PostgresRoomDeletionLock } from "../../appservice/src/storage/retention-policy-store.js";
import { freshDatabase } from "../support/fresh-database.js";
import { startHandover } from "../support/handover-instance.js";
import { eventually, TestUser } from "../support/matrix-user.js";
import { PortalSession } from "../support/portal-session.js";

/**
 * Issue 11.2-11.4: what a purge may delete (media by provenance), when it may delete (a hold
 * checked at the moment of deletion), and how much (exactly the planned events; one failing
 * room does not stop the others). Purge records in a given state are written straight into
 * the ledger, as a sweep that stopped there (a crash) would have left them.
 */
const stack = inject("stack");
const trust = stack.trusts.a;
const databaseUrl = await freshDatabase(stack.databaseUrls.a, "retention_safety");

let handover: Handover;
let alice: TestUser; // ig-lead
let bob: TestUser;
let portal: PortalSession; // alice, signed in
const db = new pg.Client({ connectionString: databaseUrl });

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const call = <T>(method: string, path: string, body?: unknown) => portal.call<T>(method, path, body);

async function operationalRoom(name: string, classify = true): Promise<string> {
  const roomId = await alice.createRoom(`${name} ${Date.now()}`);
  await alice.invite(roomId, handover.botUserId);
  await alice.invite(roomId, bob.userId);
  await bob.request("POST", `/rooms/${encodeURIComponent(roomId)}/join`, {});
  await eventually("the bot to join", async () => (await alice.members(roomId))[handover.botUserId] === "join");
  if (!classify) return roomId;
  await alice.send(roomId, "!handover classify operational");
  await eventually("the classification", async () => (await handover.rooms.get(roomId))?.kind === "operational");
  return roomId;
}

async function roomPolicy(roomId: string, rules: Partial<PolicyDraftInput>): Promise<RetentionPolicyView> {
  const created = await call<RetentionPolicyView>("POST", "/retention/policies", {
    name: `Safety policy ${roomId}`,
    scope: { type: "room", roomId },
    maxAge: null,
    deleteAfterFiling: null,
    ...rules,
  });
  expect(created.status).toBe(201);
  return created.body;
}

async function upload(name: string): Promise<string> {
  const response = await fetch(`${trust.clientUrl}/_matrix/media/v3/upload?filename=${name}`, {
    method: "POST",
    headers: { authorization: `Bearer ${alice.user.accessToken}`, "content-type": "image/png" },
    body: Buffer.from("89504e470d0a1a0a0000000d49484452", "hex"),
  });
  return ((await response.json()) as { content_uri: string }).content_uri;
}

const mediaStatus = async (uri: string) =>
  (
    await fetch(`${trust.clientUrl}/_matrix/client/v1/media/download/${uri.slice("mxc://".length)}`, {
      headers: { authorization: `Bearer ${bob.user.accessToken}` },
    })
  ).status;

async function sendImage(user: TestUser, roomId: string, uri: string): Promise<string> {
  const { event_id } = await user.request<{ event_id: string }>(
    "PUT",
    `/rooms/${encodeURIComponent(roomId)}/send/m.room.message/img${Date.now()}${Math.random()}`,
    {
      msgtype: "m.image",
      body: "photo.png",
      url: uri,
    },
  );
  return event_id;
}

const bodies = async (roomId: string) =>
  (await alice.messages(roomId)).filter((event) => event.sender !== handover.botUserId).map((event) => String(event.content.body));
const notices = async (roomId: string) =>
  (await alice.messages(roomId)).filter((event) => event.sender === handover.botUserId).map((event) => String(event.content.body));

async function indexed(roomId: string, expected: number): Promise<void> {
  await eventually(`${expected} messages indexed`, async () => {
    const { rows } = await db.query("SELECT count(*)::int AS n FROM retention_events WHERE room_id = $1", [roomId]);
    return rows[0].n >= expected;
  });
}

const sweep = async () => expect(await handover.jobs.runNow(SWEEP_JOB)).toBe(true);
const deletions = async (roomId: string) => (await call<DeletionList>("GET", `/retention/deletions?roomId=${encodeURIComponent(roomId)}`)).body.deletions;

/** The purge record a sweep writes before it calls Synapse, left as a sweep that stopped at `state` would leave it. */
async function openPurge(roomId: string, policy: RetentionPolicyView, state: "planned" | "enumerated", cutoff: Date, eventCount?: number): Promise<string> {
  const { rows } = await db.query(
    `INSERT INTO retention_purges (id, room_id, policy_id, policy_name, cutoff_ts, reason, actor, state, event_count, from_ts)
     VALUES (gen_random_uuid(), $1, $2, $3, $4, 'past the maximum age', 'handover:retention', $5, $6, $7) RETURNING id`,
    [roomId, policy.id, policy.name, cutoff, state, eventCount ?? null, eventCount === undefined ? null : new Date(0)],
  );
  return rows[0].id as string;
}

const newestIndexed = async (roomId: string) => (await db.query("SELECT max(ts) AS ts FROM retention_events WHERE room_id = $1", [roomId])).rows[0].ts as Date;

beforeAll(async () => {
  alice = await TestUser.register(trust, `safe-alice${Date.now()}`);
  bob = await TestUser.register(trust, `safe-bob${Date.now()}`);
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

describe("retention purges delete only what they planned, when they may", () => {
  it("a held room's image survives a sweep of another room whose message quotes its mxc URI", async () => {
    const held = await operationalRoom("Incident evidence");
    await roomPolicy(held, { maxAge: "3s" });
    const evidence = await upload("evidence.png");
    await sendImage(alice, held, evidence);
    expect((await call("PUT", `/retention/rooms/${encodeURIComponent(held)}/hold`, { reason: "SI-77" })).status).toBe(200);

    const swept = await operationalRoom("Rota chat");
    await roomPolicy(swept, { maxAge: "3s" });
    const ownImage = await upload("rota.png");
    await bob.send(swept, evidence);
    await sendImage(bob, swept, ownImage);
    await indexed(held, 2);
    await sleep(4_000);
    await bob.send(swept, "later");
    await indexed(swept, 4);
    await sweep();

    expect(await bodies(swept)).toEqual(["later"]);
    expect(await mediaStatus(ownImage)).toBe(404);
    expect(await mediaStatus(evidence)).toBe(200);
    expect(await deletions(swept)).toMatchObject([{ events: 3, media: 1, mediaDeleted: 1 }]);
  });

  it("a legal hold placed after the purge was planned stops it", async () => {
    const roomId = await operationalRoom("Hold after plan");
    const policy = await roomPolicy(roomId, { maxAge: "3s" });
    await alice.send(roomId, "Datix 1234 raised");
    await indexed(roomId, 2);
    await sleep(4_000);
    await alice.send(roomId, "later");
    await indexed(roomId, 3);
    // The sweep planned and recorded its intent, then stopped (crash); the hold comes next.
    const purgeId = await openPurge(roomId, policy, "planned", new Date(Date.now() - 3_500));
    expect((await call("PUT", `/retention/rooms/${encodeURIComponent(roomId)}/hold`, { reason: "Coroner's request" })).status).toBe(200);
    await sweep();

    expect(await bodies(roomId)).toEqual(["!handover classify operational", "Datix 1234 raised", "later"]);
    expect(await notices(roomId)).not.toContainEqual(expect.stringContaining("were removed"));
    expect(await deletions(roomId)).toEqual([]);
    const { rows } = await db.query("SELECT state, error FROM retention_purges WHERE id = $1", [purgeId]);
    expect(rows[0]).toMatchObject({ state: "stopped", error: expect.stringContaining("Coroner's request") });
  });

  it("a message posted after the history was read survives the purge", async () => {
    const roomId = await operationalRoom("Late message");
    const policy = await roomPolicy(roomId, { maxAge: "3s" });
    await alice.send(roomId, "Handover at 8");
    await indexed(roomId, 2);
    await sleep(4_000);
    // The sweep read the history (two messages, nothing newer) and stopped before its notice.
    await openPurge(roomId, policy, "enumerated", await newestIndexed(roomId), 2);
    await bob.send(roomId, "posted after the history was read");
    await indexed(roomId, 3);
    await sweep();

    expect(await bodies(roomId)).toEqual(["posted after the history was read"]);
    expect(await notices(roomId)).toContainEqual(expect.stringMatching(/^2 messages sent up to .* were removed/));
  });

  it("a room where the bot was kicked is reported and another room is still purged", async () => {
    // Not classified: classifying gives the bot power, and then Alice could not remove it.
    const kicked = await operationalRoom("Kicked", false);
    const kickedPolicy = await roomPolicy(kicked, { maxAge: "3s" });
    await alice.send(kicked, "before the kick");
    const other = await operationalRoom("Still swept");
    await roomPolicy(other, { maxAge: "3s" });
    await bob.send(other, "Bay 2 clean");
    await indexed(kicked, 1);
    await indexed(other, 2);
    await sleep(4_000);
    await bob.send(other, "later");
    await indexed(other, 3);
    const purgeId = await openPurge(kicked, kickedPolicy, "planned", new Date(Date.now() - 3_500));
    await alice.request("POST", `/rooms/${encodeURIComponent(kicked)}/kick`, { user_id: handover.botUserId, reason: "test" });
    await eventually("the kick to reach Handover", async () => (await handover.rooms.get(kicked))?.botMembership === "leave");

    await sweep();
    expect(await bodies(other)).toEqual(["later"]);
    expect(await deletions(other)).toHaveLength(1);
    expect(await bodies(kicked)).toEqual(["before the kick"]);

    const { body } = await call<PurgeProblemList>("GET", "/retention/purge-problems");
    expect(body.problems).toContainEqual({ deletionId: purgeId, roomId: kicked, policyName: kickedPolicy.name, error: expect.any(String) });
    const audit = await db.query("SELECT count(*)::int AS n FROM audit_log WHERE action = 'retention.purge_failed' AND target = $1", [kicked]);
    expect(audit.rows[0].n).toBe(1);
    const metrics = await (await fetch(`http://127.0.0.1:${handover.webPort}/metrics`)).text();
    expect(metrics).toMatch(/^handover_retention_purge_failures_total [1-9]/m);

    // The next sweep tries again and still reports it, without a second audit entry for the same problem.
    await sweep();
    const again = await db.query("SELECT count(*)::int AS n FROM audit_log WHERE action = 'retention.purge_failed' AND target = $1", [kicked]);
    expect(again.rows[0].n).toBe(1);
  });

  it("placing a hold waits for a deletion step in progress in the room, from another process's connection", async () => {
    const roomId = await operationalRoom("Lock order", false);
    // Another Handover process, as far as PostgreSQL can tell: its own pool.
    const other = createDataSource(databaseUrl, 2);
    await other.initialize();
    try {
      let placed: Promise<{ status: number }> | null = null;
      let answered = false;
      await new PostgresRoomDeletionLock(other).whileLocked(roomId, async () => {
        placed = call("PUT", `/retention/rooms/${encodeURIComponent(roomId)}/hold`, { reason: "SI-9" }).finally(() => (answered = true));
        await eventually("the hold to wait for the room's lock", async () => {
          const { rows } = await db.query(
            "SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
          );
          return rows[0].n > 0;
        });
        expect(answered).toBe(false);
        expect((await db.query("SELECT 1 FROM retention_holds WHERE room_id = $1", [roomId])).rows).toEqual([]);
      });
      expect((await (placed as unknown as Promise<{ status: number }>)).status).toBe(200);
      expect((await db.query("SELECT reason FROM retention_holds WHERE room_id = $1", [roomId])).rows).toEqual([{ reason: "SI-9" }]);
    } finally {
      await other.destroy();
    }
  });

  it("a hold placed while a sweep runs, between its notice and its purge call, stops the purge", async () => {
    const roomId = await operationalRoom("Hold during sweep");
    await roomPolicy(roomId, { maxAge: "3s" });
    await alice.send(roomId, "Bed 12 incident");
    await indexed(roomId, 2);
    await sleep(4_000);
    await alice.send(roomId, "later");
    await indexed(roomId, 3);
    const other = createDataSource(databaseUrl, 2);
    await other.initialize();
    const waiting = async (n: number) =>
      eventually(`${n} deletion step(s) or hold(s) waiting for the room's lock`, async () => {
        const { rows } = await db.query(
          "SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
        );
        return rows[0].n >= n;
      });
    try {
      let sweeping: Promise<boolean> | null = null;
      let holding: Promise<{ status: number }> | null = null;
      // The room's lock is held elsewhere while the sweep plans and reaches its notice, then the
      // hold is requested: PostgreSQL hands the lock over in that order, so the notice goes out
      // first and the hold is in place before the purge call.
      await new PostgresRoomDeletionLock(other).whileLocked(roomId, async () => {
        sweeping = handover.jobs.runNow(SWEEP_JOB);
        await waiting(1);
        holding = call("PUT", `/retention/rooms/${encodeURIComponent(roomId)}/hold`, { reason: "Placed mid-sweep" });
        await waiting(2);
      });
      expect(await (sweeping as unknown as Promise<boolean>)).toBe(true);
      expect((await (holding as unknown as Promise<{ status: number }>)).status).toBe(200);
    } finally {
      await other.destroy();
    }

    expect(await bodies(roomId)).toEqual(["!handover classify operational", "Bed 12 incident", "later"]);
    expect(await deletions(roomId)).toEqual([]);
    const texts = await notices(roomId);
    expect(texts.at(-1)).toBe("The removal of messages announced above was called off: they are kept.");
    expect(texts.at(-2)).toMatch(/^2 messages sent up to .* were removed/);
    const { rows } = await db.query("SELECT state, error FROM retention_purges WHERE room_id = $1", [roomId]);
    expect(rows).toEqual([{ state: "stopped", error: expect.stringContaining("Placed mid-sweep") }]);
  });
});
