import { describe, expect, it } from "vitest";
import { messageEvent } from "../../testing/fakes.js";
import { HandoverError } from "../errors.js";
import type { RoomTimeline } from "./conversation.js";
import { assembleTranscript, ENCRYPTED_ROOM_MESSAGE, stripReplyFallback } from "./transcript.js";

const BOT = "@handover:trust-a.test";

function timeline(events: RoomTimeline["events"], encrypted = false): RoomTimeline {
  return { encrypted, events, displayNames: { "@alice:trust-a.test": "Dr Alice" }, roomName: "Ward 7" };
}

describe("assembling a transcript", () => {
  // The reply quotes what was there when it was written, not the later edit.
  it("applies edits, strips reply fallbacks, leaves out commands and the bot", () => {
    const events = [
      messageEvent({ event_id: "$1", sender: "@alice:trust-a.test", body: "Obs stable" }),
      messageEvent({
        event_id: "$2",
        sender: "@bob:trust-a.test",
        content: { msgtype: "m.text", body: "> <@alice:trust-a.test> Obs stable\n\nAgreed", "m.relates_to": { "m.in_reply_to": { event_id: "$1" } } },
      }),
      messageEvent({ event_id: "$3", sender: "@alice:trust-a.test", body: "!handover file" }),
      messageEvent({ event_id: "$4", sender: BOT, body: "Ready to file" }),
      messageEvent({
        event_id: "$5",
        sender: "@alice:trust-a.test",
        content: {
          msgtype: "m.text",
          body: "* Obs stable, NEWS 1",
          "m.new_content": { msgtype: "m.text", body: "Obs stable, NEWS 1" },
          "m.relates_to": { rel_type: "m.replace", event_id: "$1" },
        },
      }),
      messageEvent({
        event_id: "$6",
        sender: "@mallory:trust-a.test",
        content: { msgtype: "m.text", body: "* hijack", "m.new_content": { body: "hijacked" }, "m.relates_to": { rel_type: "m.replace", event_id: "$2" } },
      }),
    ];
    const messages = assembleTranscript(timeline(events), { botUserId: BOT, threadRootId: null });
    expect(messages.map((m) => [m.eventId, m.senderName, m.text, m.editedAt !== null])).toEqual([
      ["$1", "Dr Alice", "Obs stable, NEWS 1", true],
      ["$2", "@bob:trust-a.test", "Agreed", false],
    ]);
    expect(messages[1]?.replyTo).toEqual({ eventId: "$1", senderName: "Dr Alice", excerpt: "Obs stable" });
  });

  it("keeps only one thread when filing a thread", () => {
    const events = [
      messageEvent({ event_id: "$root", body: "Bed 4 plan" }),
      messageEvent({ event_id: "$other", body: "Unrelated" }),
      messageEvent({ event_id: "$reply", content: { msgtype: "m.text", body: "Done", "m.relates_to": { rel_type: "m.thread", event_id: "$root" } } }),
    ];
    expect(assembleTranscript(timeline(events), { botUserId: BOT, threadRootId: "$root" }).map((m) => m.eventId)).toEqual(["$root", "$reply"]);
  });

  it("refuses encrypted rooms and encrypted events outright", () => {
    expect(() => assembleTranscript(timeline([], true), { botUserId: BOT, threadRootId: null })).toThrow(ENCRYPTED_ROOM_MESSAGE);
    const encryptedEvent = { ...messageEvent({ event_id: "$e" }), type: "m.room.encrypted" };
    expect(() => assembleTranscript(timeline([encryptedEvent]), { botUserId: BOT, threadRootId: null })).toThrow(HandoverError);
  });

  it("strips only the leading quote of a reply", () => {
    expect(stripReplyFallback("> <@a:b> hi\n> there\n\nreply\n> kept")).toBe("reply\n> kept");
    expect(stripReplyFallback("no quote")).toBe("no quote");
  });

  it("shows reactions with the message they react to; a reaction to a message not in the transcript is left out", () => {
    const events = [
      messageEvent({ event_id: "$1", sender: "@alice:trust-a.test", body: "Morphine 5 mg given?" }),
      messageEvent({
        event_id: "$r1",
        sender: "@bob:trust-a.test",
        type: "m.reaction",
        origin_server_ts: Date.parse("2026-11-22T09:01:00Z"),
        content: { "m.relates_to": { rel_type: "m.annotation", event_id: "$1", key: "✅" } },
      }),
      messageEvent({
        event_id: "$r2",
        sender: "@bob:trust-a.test",
        type: "m.reaction",
        content: { "m.relates_to": { rel_type: "m.annotation", event_id: "$elsewhere", key: "👍" } },
      }),
    ];
    const [message, ...rest] = assembleTranscript(timeline(events), { botUserId: BOT, threadRootId: null });
    expect(rest).toEqual([]);
    expect(message?.reactions).toEqual([
      { eventId: "$r1", key: "✅", sender: "@bob:trust-a.test", senderName: "@bob:trust-a.test", sentAt: new Date("2026-11-22T09:01:00Z") },
    ]);
  });
});
