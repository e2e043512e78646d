import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { Handover } from "../../appservice/src/app.js";
import { stoppedPartWayNotice } from "../../appservice/src/domain/retention/purge-executor.js";
import type { PolicyDraftInput, RetentionPolicyView } from "../../appservice/src/http/contract.js";
import { PACE_PROBE_TYPE, SWEEP_JOB } from "../../appservice/src/retention/capability.js";
import { createDataSource } from "../../appservice/src/storage/data-source.js";
import { PostgresRoomDeletionLock } from "../../appservice/src/storage/retention-policy-store.js";
import { freshDatabase } from "../support/fresh-database.js";
import { startHandover } from "../support/handover-instance.js";
import { eventually, TestUser } from "../support/matrix-user.js";
import { PortalSession } from "../support/portal-session.js";

/**
 * Issue 16.3: a room's deletion is made in slices (`purgeSliceEvents` planned messages per
 * purge_history call), each behind the legal hold and policy check under the room's lock, with
 * the history read again before the call. A hold placed while a room is being purged stops the
 * slices not yet made, and the deletion record counts what was really deleted.
 */
const stack = inject("stack");
const trust = stack.trusts.a;
const databaseUrl = await freshDatabase(stack.databaseUrls.a, "retention_slices");

let handover: Handover;
let alice: TestUser; // ig-lead
let portal: PortalSession;
const db = new pg.Client({ connectionString: databaseUrl });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function operationalRoom(name: string): Promise<string> {
  const roomId = await alice.createRoom(`${name} ${Date.now()}`);
  await alice.invite(roomId, handover.botUserId);
  await eventually("the bot to join", async () => (await alice.members(roomId))[handover.botUserId] === "join");
  await alice.send(roomId, "!handover classify operational");
  await eventually("the classification", async () => (await handover.rooms.get(roomId))?.kind === "operational");
  return roomId;
}

async function roomPolicy(roomId: string, rules: Partial<PolicyDraftInput>): Promise<RetentionPolicyView> {
  const created = await portal.call<RetentionPolicyView>("POST", "/retention/policies", {
    name: `Slices policy ${roomId}`,
    scope: { type: "room", roomId },
    maxAge: null,
    deleteAfterFiling: null,
    ...rules,
  });
  expect(created.status).toBe(201);
  return created.body;
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

/** Six old messages after the classify command (seven planned in all), then one newer. */
async function roomWithOldMessages(name: string): Promise<string> {
  const roomId = await operationalRoom(name);
  await roomPolicy(roomId, { maxAge: "3s" });
  for (let i = 1; i <= 6; i++) await alice.send(roomId, `Obs round ${i}`);
  await indexed(roomId, 7);
  await sleep(4_000);
  await alice.send(roomId, "later");
  await indexed(roomId, 8);
  return roomId;
}

const purgeRecord = async (roomId: string) =>
  (
    await db.query(
      "SELECT state, event_count, planned_count, purge_requests, error, jsonb_array_length(event_ids) AS ids FROM retention_purges WHERE room_id = $1",
      [roomId],
    )
  ).rows;

beforeAll(async () => {
  alice = await TestUser.register(trust, `slices-alice${Date.now()}`);
  handover = await startHandover(trust, databaseUrl, {
    roles: { [alice.userId]: "ig-lead" },
    // Two planned messages per purge call.
    retention: { sweepInterval: "1h", purgePollInterval: "1s", purgeSliceEvents: 2, warningGranularity: "1s" },
  });
  await db.connect();
  portal = await PortalSession.signIn(handover.webPort, alice.userId, alice.user.password);
}, 120_000);

afterAll(async () => {
  await handover?.stop();
  await db.end();
});

describe("sliced purges", () => {
  it("deletes a room in slices of purgeSliceEvents planned messages, and nothing newer", async () => {
    const roomId = await roomWithOldMessages("Sliced");
    expect(await handover.jobs.runNow(SWEEP_JOB)).toBe(true);

    expect(await bodies(roomId)).toEqual(["later"]);
    expect(await purgeRecord(roomId)).toEqual([{ state: "complete", event_count: 7, planned_count: 7, purge_requests: 4, error: null, ids: 7 }]);
  }, 120_000);

  it("paces itself by a probe the homeserver answers: while it deletes, it times writes of its admin account's own account data", async () => {
    const roomId = await roomWithOldMessages("Paced");
    const sweepStarted = Date.now();
    expect(await handover.jobs.runNow(SWEEP_JOB)).toBe(true);
    expect(await bodies(roomId)).toEqual(["later"]);

    const whoami = await fetch(`${trust.clientUrl}/_matrix/client/v3/account/whoami`, { headers: { authorization: `Bearer ${trust.admin.accessToken}` } });
    const adminUserId = ((await whoami.json()) as { user_id: string }).user_id;
    const answer = await fetch(`${trust.clientUrl}/_matrix/client/v3/user/${encodeURIComponent(adminUserId)}/account_data/${PACE_PROBE_TYPE}`, {
      headers: { authorization: `Bearer ${trust.admin.accessToken}` },
    });
    expect(answer.status).toBe(200);
    const probed = (await answer.json()) as { at: number };
    expect(probed.at).toBeGreaterThanOrEqual(sweepStarted);
  }, 120_000);

  it("sliced purges stop at a legal hold placed mid-way: the deletion record counts what was really deleted", async () => {
    const roomId = await roomWithOldMessages("Hold mid-way");
    const other = createDataSource(databaseUrl, 2);
    await other.initialize();
    let slicesBefore = 0;
    try {
      const sweeping = handover.jobs.runNow(SWEEP_JOB);
      // As soon as the first slice has been asked of Synapse, the hold goes in under the room's
      // lock (as placing one through the API does): the next slice's check waits for it.
      for (;;) {
        const { rows } = await db.query("SELECT purge_requests FROM retention_purges WHERE room_id = $1", [roomId]);
        if ((rows[0]?.purge_requests ?? 0) >= 1) break;
        await sleep(5);
      }
      await new PostgresRoomDeletionLock(other).whileLocked(roomId, async () => {
        slicesBefore = (await db.query("SELECT purge_requests FROM retention_purges WHERE room_id = $1", [roomId])).rows[0].purge_requests;
        await db.query("INSERT INTO retention_holds (room_id, reason, set_by, set_at) VALUES ($1, 'Inquest: keep the rest', $2, now())", [
          roomId,
          alice.userId,
        ]);
      });
      expect(await sweeping).toBe(true);
    } finally {
      await other.destroy();
    }

    // Each slice took two planned messages (the classify command first); the hold stopped the rest.
    const [record] = await purgeRecord(roomId);
    const slices = record.purge_requests as number;
    // The slices made before the hold went in, and none after it.
    expect(slices).toBe(slicesBefore);
    expect(slices).toBeGreaterThanOrEqual(1);
    expect(slices).toBeLessThanOrEqual(3);
    const planned = ["!handover classify operational", ...Array.from({ length: 6 }, (_, i) => `Obs round ${i + 1}`)];
    expect(await bodies(roomId)).toEqual([...planned.slice(2 * slices), "later"]);
    expect((await notices(roomId)).at(-1)).toBe(stoppedPartWayNotice(2 * slices, 7));
    expect(record).toEqual({
      state: "complete",
      event_count: 2 * slices,
      planned_count: 7,
      purge_requests: slices,
      error: expect.stringContaining("Inquest: keep the rest"),
      ids: 2 * slices,
    });
    // The kept messages are still known to retention, for when the hold is lifted.
    const { rows } = await db.query("SELECT count(*)::int AS n FROM retention_events WHERE room_id = $1", [roomId]);
    expect(rows[0].n).toBe(8 - 2 * slices);
    const audit = await db.query("SELECT action, details FROM audit_log WHERE target = $1 AND action LIKE 'retention.%' ORDER BY seq", [roomId]);
    expect(audit.rows.map((row) => row.action)).toEqual(expect.arrayContaining(["retention.purge_stopped", "retention.deleted"]));
    expect(audit.rows.find((row) => row.action === "retention.deleted")?.details).toMatchObject({ events: 2 * slices, plannedEvents: 7, mediaDeleted: 0 });
  }, 120_000);
});
