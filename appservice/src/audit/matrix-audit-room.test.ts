import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import type { SignedAuditAnchor } from "../domain/audit/anchor.js";
import type { MatrixEvent } from "../domain/matrix-event.js";
import { anchorCheckFor } from "./capability.js";
import { ANCHOR_CONTENT_KEY, MatrixAuditRoom } from "./matrix-audit-room.js";

const BOT = "@handover:trust-a.test";
const anchor = (seq: number): SignedAuditAnchor => ({
  seq,
  hash: "a".repeat(64),
  at: "2026-12-05T21:00:00.000Z",
  server: "trust-a.test",
  keyId: "ed25519:x",
  signature: "c2ln",
});
const ROOM = "!audit:trust-a.test";
const event = (id: string, sender: string, seq: number): MatrixEvent => ({
  event_id: id,
  room_id: ROOM,
  sender,
  type: "m.room.message",
  origin_server_ts: 0,
  content: { msgtype: "m.notice", body: "anchor", [ANCHOR_CONTENT_KEY]: anchor(seq) },
});

describe("the audit room", () => {
  it("reads only the bot's own anchors, across pages, oldest first", async () => {
    // Newest first, as GET /messages?dir=b answers; someone else in the room posts a look-alike.
    const pages: Record<string, { chunk: MatrixEvent[]; end?: string }> = {
      start: { chunk: [event("$3", BOT, 3), event("$fake", "@mallory:trust-a.test", 9)], end: "p2" },
      p2: { chunk: [event("$1", BOT, 1)], end: "p3" },
      p3: { chunk: [] },
    };
    const bot = {
      botUserId: BOT,
      join: async () => {},
      stateContent: async () => null,
      postClearMessage: async () => "$new",
      roomMessages: async (_room: string, from: string | null) => pages[from ?? "start"] ?? { chunk: [] },
    };
    const found = await new MatrixAuditRoom(bot, "!audit:trust-a.test").anchors();
    expect(found.map((entry) => [entry.where, entry.anchor.seq])).toEqual([
      ["$1", 1],
      ["$3", 3],
    ]);
  });

  it("refuses to post into an encrypted audit room", async () => {
    const bot = {
      botUserId: BOT,
      join: async () => {},
      stateContent: async () => ({ algorithm: "m.megolm.v1.aes-sha2" }),
      postClearMessage: async () => "$new",
      roomMessages: async () => ({ chunk: [] }),
    };
    await expect(new MatrixAuditRoom(bot, "!audit:trust-a.test").publish(anchor(1))).rejects.toThrow(/is encrypted/);
  });
});

describe("anchors deleted from the audit room", () => {
  it("a redacted anchor of the bot's is a problem for `audit verify`, naming who redacted it and after which entry", async () => {
    // Whoever can rewrite the chain and redact in the audit room would otherwise leave only the anchors that still agree.
    const redacted: MatrixEvent = {
      event_id: "$2",
      room_id: ROOM,
      sender: BOT,
      type: "m.room.message",
      origin_server_ts: 0,
      content: {},
      unsigned: { redacted_because: { sender: "@mallory:trust-a.test", type: "m.room.redaction" } },
    };
    const bot = {
      botUserId: BOT,
      join: async () => {},
      stateContent: async () => null,
      postClearMessage: async () => "$new",
      roomMessages: async () => ({ chunk: [redacted, event("$1", BOT, 1)] }),
    };
    const check = await anchorCheckFor(
      { room: "!audit:trust-a.test", signingKey: randomBytes(32).toString("base64") } as Parameters<typeof anchorCheckFor>[0],
      "trust-a.test",
      bot,
    );
    const deleted = check.problems.filter((problem) => problem.problem.includes("deleted"));
    expect(deleted).toEqual([{ seq: 1, problem: expect.stringMatching(/^an anchor after entry 1 was deleted: \$2 .*redacted by @mallory:trust-a\.test/) }]);
  });
});
