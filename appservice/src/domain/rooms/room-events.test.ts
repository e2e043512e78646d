import { describe, expect, it } from "vitest";
import { FakeClock, MemoryRoomStore, messageEvent, RecordingAudit } from "../../testing/fakes.js";
import { BotCommands } from "../commands/bot-commands.js";
import type { MatrixEvent } from "../matrix-event.js";
import { CLASSIFICATION_EVENT_TYPE } from "./room.js";
import { RoomClassifier } from "./room-classifier.js";
import { RoomEvents, type RoomSnapshot } from "./room-events.js";

const BOT = "@handover:trust-a.test";

const IG_LEAD = "@ig.lead:trust-a.test";

function setup(snapshot: RoomSnapshot = { name: "Ward 7", encrypted: false, classification: null }) {
  const rooms = new MemoryRoomStore();
  const audit = new RecordingAudit();
  const joined: string[] = [];
  const left: string[] = [];
  const states: { roomId: string; type: string; content: Record<string, unknown> }[] = [];
  const notices: string[] = [];
  const classifier = new RoomClassifier({
    rooms,
    audit,
    clock: new FakeClock(),
    stateWriter: { setState: async (roomId, type, _key, content) => void states.push({ roomId, type, content }) },
    reporter: { notice: async (_r, text) => void notices.push(text) },
    botUserId: BOT,
    roleOf: (userId) => (userId === IG_LEAD ? "ig-lead" : undefined),
  });
  const commands = new BotCommands({
    notifier: { notice: async (_r, text) => void notices.push(text) },
    powerLevels: { userLevel: async () => 100 },
    classify: (roomId, kind, actor) => classifier.classify(roomId, kind, actor, "command"),
    room: (roomId) => rooms.get(roomId),
    version: "test",
  });
  const events = new RoomEvents({
    botUserId: BOT,
    serverName: "trust-a.test",
    rooms,
    classifier,
    commands,
    audit,
    membership: {
      join: async (roomId) => void joined.push(roomId),
      leave: async (roomId) => void left.push(roomId),
      snapshot: async () => snapshot,
    },
  });
  return { rooms, audit, joined, left, states, notices, events };
}

const member = (membership: string, extra: Partial<MatrixEvent> = {}): MatrixEvent => ({
  ...messageEvent({ type: "m.room.member", state_key: BOT, sender: "@alice:trust-a.test", room_id: "!r:trust-a.test" }),
  content: { membership },
  ...extra,
});

describe("room events", () => {
  it("accepts an invite to a room on its own server, and records the room on join", async () => {
    const { events, joined, rooms, audit } = setup();
    await events.handle(
      member("invite", { unsigned: { invite_room_state: [{ type: "m.room.create", sender: "@alice:trust-a.test", state_key: "", content: {} }] } }),
    );
    expect(joined).toEqual(["!r:trust-a.test"]);
    await events.handle(member("join", { sender: BOT }));
    expect(await rooms.get("!r:trust-a.test")).toMatchObject({ botMembership: "join", name: "Ward 7", kind: null });
    expect(audit.actions()).toEqual(["bot.invite_accepted"]);
  });

  it("declines an invite to another trust's room", async () => {
    const { events, joined, left, audit } = setup();
    await events.handle(
      member("invite", {
        room_id: "!abc",
        sender: "@bob:trust-b.test",
        unsigned: { invite_room_state: [{ type: "m.room.create", sender: "@bob:trust-b.test", state_key: "", content: {} }] },
      }),
    );
    expect(joined).toEqual([]);
    expect(left).toEqual(["!abc"]);
    expect(audit.actions()).toEqual(["bot.invite_declined"]);
  });

  it("picks up an existing classification when it joins", async () => {
    const { events, rooms } = setup({
      name: null,
      encrypted: true,
      classification: { content: { kind: "operational", classified_by: "@x:trust-a.test" }, sender: "@mod:trust-a.test", ts: 1 },
    });
    await events.handle(member("join", { sender: BOT }));
    // Attributed to who sent the state event, not to whom its content names.
    expect(await rooms.get("!r:trust-a.test")).toMatchObject({ kind: "operational", classifiedBy: "@mod:trust-a.test", encrypted: true });
  });

  it("classifies by command: state event first, then database, then audit", async () => {
    const { events, rooms, states, notices, audit } = setup();
    await events.handle(member("join", { sender: BOT }));
    await events.handle(messageEvent({ room_id: "!r:trust-a.test", body: "!handover classify clinical" }));
    expect(states).toEqual([
      {
        roomId: "!r:trust-a.test",
        type: CLASSIFICATION_EVENT_TYPE,
        content: expect.objectContaining({ kind: "clinical", classified_by: "@alice:trust-a.test" }),
      },
    ]);
    expect((await rooms.get("!r:trust-a.test"))?.kind).toBe("clinical");
    expect(notices).toEqual(["This room is now classified as clinical."]);
    expect(audit.events.at(-1)).toMatchObject({
      action: "room.classify",
      actor: "@alice:trust-a.test",
      details: { kind: "clinical", previous: null, via: "command" },
    });
  });

  it("mirrors a classification state event and ignores a bogus kind", async () => {
    const { events, rooms } = setup();
    const state = (kind: unknown) =>
      messageEvent({ type: CLASSIFICATION_EVENT_TYPE, state_key: "", room_id: "!r:trust-a.test", sender: IG_LEAD, content: { kind } });
    await events.handle(state("clinical"));
    expect((await rooms.get("!r:trust-a.test"))?.kind).toBe("clinical");
    await events.handle(state("top-secret"));
    expect((await rooms.get("!r:trust-a.test"))?.kind).toBeNull();
  });

  it("ignores its own messages and ordinary chat", async () => {
    const { events, notices } = setup();
    await events.handle(messageEvent({ sender: BOT, body: "!handover help" }));
    await events.handle(messageEvent({ body: "BP 120/80" }));
    expect(notices).toEqual([]);
  });

  it("attributes a raw classification event to its sender and audits it", async () => {
    const { events, rooms, audit } = setup();
    await events.handle(
      messageEvent({
        type: CLASSIFICATION_EVENT_TYPE,
        state_key: "",
        room_id: "!r:trust-a.test",
        sender: "@mod:trust-a.test",
        content: { kind: "clinical", classified_by: IG_LEAD },
      }),
    );
    expect(await rooms.get("!r:trust-a.test")).toMatchObject({ kind: "clinical", classifiedBy: "@mod:trust-a.test" });
    expect(audit.events.at(-1)).toMatchObject({
      action: "room.classify",
      actor: "@mod:trust-a.test",
      details: { kind: "clinical", previous: null, via: "state-event", claimedBy: IG_LEAD },
    });
  });

  it("reverts a raw clinical-to-operational change by someone who is not an ig-lead or admin, and reports it", async () => {
    const { events, rooms, states, notices, audit } = setup();
    await events.handle(member("join", { sender: BOT }));
    await events.handle(messageEvent({ room_id: "!r:trust-a.test", body: "!handover classify clinical" }));
    const raw = (sender: string, kind: unknown) =>
      messageEvent({ type: CLASSIFICATION_EVENT_TYPE, state_key: "", room_id: "!r:trust-a.test", sender, content: { kind, classified_by: IG_LEAD } });

    await events.handle(raw("@mod:trust-a.test", "operational"));
    expect(await rooms.get("!r:trust-a.test")).toMatchObject({ kind: "clinical", classifiedBy: "@alice:trust-a.test" });
    expect(states.at(-1)?.content).toMatchObject({ kind: "clinical", classified_by: "@alice:trust-a.test" });
    expect(audit.events.at(-1)).toMatchObject({ action: "room.classification_reverted", actor: "@mod:trust-a.test", details: { kind: "operational" } });
    expect(notices.at(-1)).toMatch(/^@mod:trust-a.test set this room's classification as operational, but only an ig-lead or admin/);

    await events.handle(raw("@mod:trust-a.test", "bogus"));
    expect((await rooms.get("!r:trust-a.test"))?.kind).toBe("clinical");

    await events.handle(raw(IG_LEAD, "operational"));
    expect(await rooms.get("!r:trust-a.test")).toMatchObject({ kind: "operational", classifiedBy: IG_LEAD });
    expect(audit.events.at(-1)).toMatchObject({ action: "room.classify", actor: IG_LEAD, details: { kind: "operational", previous: "clinical" } });
  });

  it("refuses a clinical-to-operational command from a moderator without the ig-lead or admin role", async () => {
    const { events, rooms, notices, audit } = setup();
    await events.handle(member("join", { sender: BOT }));
    await events.handle(messageEvent({ room_id: "!r:trust-a.test", body: "!handover classify clinical" }));
    await events.handle(messageEvent({ room_id: "!r:trust-a.test", body: "!handover classify operational" }));
    expect((await rooms.get("!r:trust-a.test"))?.kind).toBe("clinical");
    expect(notices.at(-1)).toMatch(/^Could not classify this room: a clinical room becomes operational only by an ig-lead or admin/);
    expect(audit.actions().at(-1)).toBe("room.classify_refused");
  });
});
