import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { Handover } from "../../appservice/src/app.js";
import { CLASSIFICATION_EVENT_TYPE } from "../../appservice/src/domain/rooms/room.js";
import { freshDatabase } from "../support/fresh-database.js";
import { startHandover } from "../support/handover-instance.js";
import { eventually, TestUser } from "../support/matrix-user.js";

/**
 * Issue 11.7: a classification is attributed to whoever set it, every change is audited, and
 * taking a room out of clinical (which lifts the protection of unfiled clinical content) needs
 * an ig-lead or admin in Handover's access config: otherwise it is reverted and reported.
 */
const stack = inject("stack");
const trust = stack.trusts.a;
const databaseUrl = await freshDatabase(stack.databaseUrls.a, "classification");

let handover: Handover;
let db: pg.Client;
let alice: TestUser; // ward sister: created the room (power 100), no Handover role
let carol: TestUser; // IG lead in Handover's access config, moderator in the room
let roomId: string;

interface Classification {
  kind: string;
  classified_by: string;
}

async function notices(): Promise<string[]> {
  return (await alice.messages(roomId, 100)).filter((event) => event.sender === handover.botUserId).map((event) => String(event.content.body));
}

/** A raw state event, as any client with power in the room can send it. */
async function setClassification(user: TestUser, content: Record<string, unknown>): Promise<string> {
  const path = `/rooms/${encodeURIComponent(roomId)}/state/${CLASSIFICATION_EVENT_TYPE}/`;
  return (await user.request<{ event_id: string }>("PUT", path, content)).event_id;
}

async function auditOf(eventId: string): Promise<{ actor: string; action: string; details: Record<string, unknown> }[]> {
  const rows = await db.query("SELECT actor, action, details FROM audit_log WHERE target = $1 AND details->>'eventId' = $2 ORDER BY seq", [roomId, eventId]);
  return rows.rows as { actor: string; action: string; details: Record<string, unknown> }[];
}

beforeAll(async () => {
  const stamp = Date.now();
  alice = await TestUser.register(trust, `class-alice${stamp}`);
  carol = await TestUser.register(trust, `class-carol${stamp}`);
  handover = await startHandover(trust, databaseUrl, { roles: { [carol.userId]: "ig-lead" } });
  db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  roomId = await alice.createRoom("Ward 2 handover (classification)");
  await alice.invite(roomId, handover.botUserId);
  await alice.invite(roomId, carol.userId);
  await carol.request("POST", `/rooms/${encodeURIComponent(roomId)}/join`, {});
  const levels = await alice.state<{ users: Record<string, number> }>(roomId, "m.room.power_levels");
  await alice.request("PUT", `/rooms/${encodeURIComponent(roomId)}/state/m.room.power_levels/`, { ...levels, users: { ...levels.users, [carol.userId]: 50 } });
  await eventually("the bot to join", async () => (await handover.rooms.get(roomId))?.botMembership === "join");
  await alice.send(roomId, "!handover classify clinical");
  await eventually("the room to be clinical", async () => (await handover.rooms.get(roomId))?.kind === "clinical");
});

afterAll(async () => {
  await handover?.stop();
  await db?.end();
});

describe("room classification is attributed to who set it", () => {
  it("a raw state event setting operational by someone who is not an ig-lead or admin is reverted to clinical, reported and audited", async () => {
    const eventId = await setClassification(alice, { kind: "operational", classified_by: carol.userId, classified_at: Date.now() });
    await eventually("the revert", async () => {
      const state = await alice.state<Classification>(roomId, CLASSIFICATION_EVENT_TYPE);
      return state.kind === "clinical" ? state : undefined;
    });
    expect(await alice.state<Classification>(roomId, CLASSIFICATION_EVENT_TYPE)).toMatchObject({ kind: "clinical", classified_by: alice.userId });
    expect(await handover.rooms.get(roomId)).toMatchObject({ kind: "clinical", classifiedBy: alice.userId });
    const report = await eventually("the report in the room", async () =>
      (await notices()).find((text) => text.startsWith(`${alice.userId} set this room's classification as operational`)),
    );
    expect(report).toContain("only an ig-lead or admin can take a room out of clinical");
    expect(await auditOf(eventId)).toEqual([
      {
        actor: alice.userId,
        action: "room.classification_reverted",
        details: { kind: "operational", previous: "clinical", via: "state-event", claimedBy: carol.userId, eventId },
      },
    ]);
  });

  it("the same change by command from a room moderator without the role is refused", async () => {
    await alice.send(roomId, "!handover classify operational");
    await eventually("the refusal", async () =>
      (await notices()).find((text) => text.startsWith("Could not classify this room: a clinical room becomes operational only by an ig-lead or admin")),
    );
    expect((await handover.rooms.get(roomId))?.kind).toBe("clinical");
  });

  it("a raw state event setting operational by an ig-lead is accepted and attributed to its sender, not to the classified_by it claims", async () => {
    const eventId = await setClassification(carol, { kind: "operational", classified_by: alice.userId, classified_at: 1 });
    await eventually("the change to be mirrored and audited", async () => (await auditOf(eventId)).length > 0);
    expect(await handover.rooms.get(roomId)).toMatchObject({ kind: "operational", classifiedBy: carol.userId });
    expect(await auditOf(eventId)).toEqual([
      {
        actor: carol.userId,
        action: "room.classify",
        details: { kind: "operational", previous: "clinical", via: "state-event", claimedBy: alice.userId, eventId },
      },
    ]);
    expect((await alice.state<Classification>(roomId, CLASSIFICATION_EVENT_TYPE)).kind).toBe("operational");
  });
});
