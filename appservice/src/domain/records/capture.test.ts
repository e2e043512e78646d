import { describe, expect, it } from "vitest";
import { messageEvent } from "../../testing/fakes.js";
import type { MatrixEvent } from "../matrix-event.js";
import { captureOf } from "./capture.js";
import { embeddedFiles } from "./fhir-bundle.js";
import { assembleTranscript } from "./transcript.js";

const BOT = "@handover:trust-a.test";
const ALICE = "@alice:trust-a.test";
const BOB = "@bob:trust-a.test";
const at = (n: number) => Date.parse("2026-11-22T09:00:00Z") + n * 1000;

function event(id: string, n: number, overrides: Partial<MatrixEvent> & { body?: string } = {}): MatrixEvent {
  return messageEvent({ event_id: id, origin_server_ts: at(n), sender: ALICE, ...overrides });
}

/** What a filing of these events would hold, with the downloads done as `downloaded` says. */
function captureFor(events: MatrixEvent[], downloaded: Record<string, boolean> = {}, threadRootId: string | null = null) {
  const messages = assembleTranscript({ encrypted: false, decrypted: true, events, displayNames: {}, roomName: null }, { botUserId: BOT, threadRootId });
  for (const message of messages) {
    const ok = downloaded[message.eventId] ?? false;
    if (message.image) message.image.bytes = ok ? new Uint8Array([1]) : null;
    if (message.file && ok) {
      message.file.bytes = new Uint8Array([1]);
      message.file.notCaptured = null;
    }
  }
  const capture = captureOf(events, messages, { botUserId: BOT, threadRootId });
  return { captured: capture.captured.map((e) => e.eventId), uncaptured: capture.uncaptured.map((e) => e.eventId) };
}

describe("what a filing captures: filed means the record holds it", () => {
  it("holds text, deleted messages and the files and images it embedded; names the rest as not captured", () => {
    const file = (id: string, n: number, sender = ALICE) =>
      event(id, n, { sender, content: { msgtype: "m.file", body: `${id}.pdf`, url: `mxc://trust-a.test/${id}` } });
    const events = [
      event("$text", 1, { body: "Obs stable" }),
      event("$deleted", 2, { content: {} }),
      file("$embedded", 3),
      file("$too-large", 4, BOB),
      event("$image", 5, { content: { msgtype: "m.image", body: "wound.png", url: "mxc://trust-a.test/img" } }),
      event("$missing", 6, { type: "m.room.encrypted", content: { algorithm: "m.megolm.v1.aes-sha2", ciphertext: "x" } }),
    ];
    expect(captureFor(events, { $embedded: true })).toEqual({ captured: ["$text", "$deleted", "$embedded"], uncaptured: ["$too-large", "$image", "$missing"] });
  });

  it("a message that only starts like a command but says more is clinical content: the document holds it, never counted as an empty command", () => {
    const events = [
      event("$cmd", 1, { body: "!handover patient 943 476 5919" }),
      event("$note", 2, { body: "!handover bed 4 desaturated to 85% overnight, on 2L O2, please review" }),
      event("$confirm-and-more", 3, { body: "!handover confirm 123456 BP dropped after the last obs" }),
      event("$file-name", 4, { content: { msgtype: "m.file", body: "!handover notes.pdf", url: "mxc://trust-a.test/notes" } }),
    ];
    const messages = assembleTranscript(
      { encrypted: false, decrypted: true, events, displayNames: {}, roomName: null },
      { botUserId: BOT, threadRootId: null },
    );
    expect(messages.map((message) => message.eventId)).toEqual(["$note", "$confirm-and-more", "$file-name"]);
    expect(captureFor(events)).toEqual({ captured: ["$note", "$confirm-and-more", "$cmd"], uncaptured: ["$file-name"] });
  });

  it("counts as held the reactions it shows and what carries nothing to keep (the bot, commands, redactions, edits it applied); anything else is not held", () => {
    const events = [
      event("$1", 1, { body: "Wound dressing chnaged" }),
      event("$cmd", 2, { body: "!handover file" }),
      event("$notice", 3, { sender: BOT, body: "Ready to file" }),
      event("$edit", 4, {
        content: {
          msgtype: "m.text",
          body: "* fixed",
          "m.new_content": { body: "Wound dressing changed" },
          "m.relates_to": { rel_type: "m.replace", event_id: "$1" },
        },
      }),
      event("$foreign-edit", 5, {
        sender: BOB,
        content: { body: "* x", "m.new_content": { body: "x" }, "m.relates_to": { rel_type: "m.replace", event_id: "$1" } },
      }),
      event("$edit-elsewhere", 6, {
        content: { body: "* y", "m.new_content": { body: "y" }, "m.relates_to": { rel_type: "m.replace", event_id: "$filed-before" } },
      }),
      event("$redaction", 7, { type: "m.room.redaction", content: { redacts: "$x" } }),
      event("$reaction", 8, { sender: BOB, type: "m.reaction", content: { "m.relates_to": { rel_type: "m.annotation", event_id: "$1", key: "👍" } } }),
      event("$reaction-elsewhere", 8, { type: "m.reaction", content: { "m.relates_to": { rel_type: "m.annotation", event_id: "$filed-before", key: "✅" } } }),
      event("$sticker", 9, { type: "m.sticker", content: { body: "thumbs up", url: "mxc://trust-a.test/s" } }),
      { ...event("$state", 10), type: "m.room.topic", state_key: "", content: { topic: "Bay 3" } },
    ];
    expect(captureFor(events)).toEqual({
      captured: ["$1", "$cmd", "$notice", "$edit", "$redaction", "$reaction"],
      uncaptured: ["$foreign-edit", "$edit-elsewhere", "$reaction-elsewhere", "$sticker"],
    });
  });

  it("a thread filing accounts only for its thread and what relates to its messages", () => {
    const thread = { rel_type: "m.thread", event_id: "$root" };
    const events = [
      event("$root", 1, { body: "Bed 4: query sepsis" }),
      event("$main", 2, { body: "Unrelated: bed 9 discharged" }),
      event("$reply", 3, { content: { msgtype: "m.text", body: "Lactate 3.1", "m.relates_to": thread } }),
      event("$thread-file", 4, { content: { msgtype: "m.file", body: "ecg.pdf", url: "mxc://trust-a.test/ecg", "m.relates_to": thread } }),
      event("$reaction", 5, { type: "m.reaction", content: { "m.relates_to": { rel_type: "m.annotation", event_id: "$reply", key: "✅" } } }),
      event("$main-reaction", 6, { type: "m.reaction", content: { "m.relates_to": { rel_type: "m.annotation", event_id: "$main", key: "✅" } } }),
    ];
    expect(captureFor(events, {}, "$root")).toEqual({ captured: ["$root", "$reply", "$reaction"], uncaptured: ["$thread-file"] });
  });
});

describe("which bytes travel as embedded files", () => {
  it("files and images the PDF cannot draw are embedded as files; PNG and JPEG are drawn instead", () => {
    const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 1]);
    const gif = new Uint8Array([0x47, 0x49, 0x46, 0x38]);
    const events = [
      event("$png", 1, { content: { msgtype: "m.image", body: "wound.png", url: "mxc://t/png", info: { mimetype: "image/png" } } }),
      event("$gif", 2, { content: { msgtype: "m.image", body: "rash.gif", url: "mxc://t/gif", info: { mimetype: "image/gif" } } }),
      event("$pdf", 3, { content: { msgtype: "m.file", body: "letter.pdf", url: "mxc://t/pdf", info: { mimetype: "application/pdf" } } }),
      event("$big", 4, { content: { msgtype: "m.video", body: "gait.mp4", url: "mxc://t/mp4", info: { mimetype: "video/mp4" } } }),
    ];
    const messages = assembleTranscript({ encrypted: false, events, displayNames: {}, roomName: null }, { botUserId: BOT, threadRootId: null });
    const [first, second, third] = messages;
    if (first?.image) first.image.bytes = png;
    if (second?.image) second.image.bytes = gif;
    if (third?.file) third.file.bytes = new Uint8Array([37, 80, 68, 70]);
    expect(embeddedFiles(messages).map((file) => [file.name, file.mimetype])).toEqual([
      ["rash.gif", "image/gif"],
      ["letter.pdf", "application/pdf"],
    ]);
  });
});
