import { COMMAND_PREFIX } from "../commands/bot-commands.js";
import { HandoverError } from "../errors.js";
import type { MatrixEvent } from "../matrix-event.js";
import type { RoomTimeline } from "./conversation.js";

export interface TranscriptImage {
  mxcUrl: string;
  mimetype: string;
  name: string;
  /** Filled in once downloaded; null when it could not be (the transcript says so). */
  bytes: Uint8Array | null;
}

/** A file, audio or video message: its bytes are embedded in the PDF and the DocumentReference when they can be. */
export interface TranscriptFile {
  mxcUrl: string;
  mimetype: string;
  name: string;
  /** The size the sender declared (`info.size`), if any: larger than the limit is not downloaded. */
  declaredSize: number | null;
  /** Filled in once downloaded; null when it was not (then `notCaptured` says why). */
  bytes: Uint8Array | null;
  /** Why the bytes are not in the record, in words for the transcript; null once they are. */
  notCaptured: string | null;
}

/** A reaction (`m.reaction` annotation) to a filed message: an acknowledgement can be clinical. */
export interface TranscriptReaction {
  eventId: string;
  key: string;
  sender: string;
  senderName: string;
  sentAt: Date;
}

/** One message as it goes into the record: edits applied, reply fallbacks removed. */
export interface TranscriptMessage {
  eventId: string;
  sender: string;
  senderName: string;
  sentAt: Date;
  text: string;
  kind: "text" | "image" | "file" | "removed" | "missing";
  replyTo: { eventId: string; senderName: string; excerpt: string } | null;
  /** When the last edit was made; the text is the edited text. */
  editedAt: Date | null;
  threadRootId: string | null;
  image: TranscriptImage | null;
  /** Set for file, audio and video messages. */
  file?: TranscriptFile;
  /** Reactions to this message read with it, oldest first. */
  reactions?: TranscriptReaction[];
}

/** What an encrypted message whose key Handover never received says in the record. */
export const MISSING_MESSAGE_TEXT = "(encrypted message missing: Handover never received the key to read it)";

export const ENCRYPTED_ROOM_MESSAGE =
  "This room is end-to-end encrypted. Handover cannot read encrypted messages yet, so nothing was filed. File it from an unencrypted room or by hand.";

export function relation(content: Record<string, unknown>): { rel_type?: string; event_id?: string; key?: string; "m.in_reply_to"?: { event_id?: string } } {
  const value = content["m.relates_to"];
  return typeof value === "object" && value !== null ? (value as ReturnType<typeof relation>) : {};
}

/** Reply fallbacks ("> <@a:b> quoted" lines then a blank line) repeat the quoted message: drop them. */
export function stripReplyFallback(body: string): string {
  const lines = body.split("\n");
  let index = 0;
  while (index < lines.length && lines[index]?.startsWith(">")) index++;
  if (index === 0) return body;
  while (index < lines.length && lines[index] === "") index++;
  return lines.slice(index).join("\n");
}

/**
 * The exact forms of the commands Handover answers, after the prefix. A message that starts
 * like a command but says more ("!handover bed 4 desaturated overnight", "!handover confirm
 * 123456 BP dropped") is someone's words: the document holds it, and retention never counts it
 * as an empty command that was filed.
 */
const COMMAND_FORMS = /^(?:|help|status|classify\s+(?:clinical|operational)|patient(?:\s+\d[\d\s-]*)?|file|confirm\s+\S+)$/i;

/** The bot's own messages and well-formed `!handover` commands: nothing in them for the record. */
export function isCommandOrNotice(event: MatrixEvent, botUserId: string): boolean {
  if (event.sender === botUserId) return true;
  const { body, msgtype } = event.content;
  if (typeof body !== "string" || (msgtype !== undefined && msgtype !== "m.text")) return false;
  if (body !== COMMAND_PREFIX && !body.startsWith(`${COMMAND_PREFIX} `)) return false;
  return COMMAND_FORMS.test(body.slice(COMMAND_PREFIX.length).trim());
}

export interface TranscriptOptions {
  botUserId: string;
  /** File one thread: its root and its replies only. */
  threadRootId: string | null;
}

/**
 * Turns a room's timeline into the messages that are filed: text, images and files from people
 * (the bot's notices and `!handover` commands are left out), with edits applied to the message
 * they edit and replies pointing at what they answer. Refuses encrypted rooms outright, so an
 * encrypted room never yields an empty or partial record.
 */
export function assembleTranscript(timeline: RoomTimeline, options: TranscriptOptions): TranscriptMessage[] {
  if (!timeline.decrypted && (timeline.encrypted || timeline.events.some((event) => event.type === "m.room.encrypted"))) {
    throw new HandoverError("CONFLICT", ENCRYPTED_ROOM_MESSAGE);
  }
  const nameOf = (userId: string) => timeline.displayNames[userId] ?? userId;
  const messages = new Map<string, TranscriptMessage>();
  const edits: MatrixEvent[] = [];
  const reactions: MatrixEvent[] = [];
  for (const event of timeline.events) {
    if (event.type === "m.reaction") {
      reactions.push(event);
      continue;
    }
    if (event.type === "m.room.encrypted" && event.sender !== options.botUserId) {
      const threadRootId = relation(event.content).rel_type === "m.thread" ? (relation(event.content).event_id ?? null) : null;
      if (options.threadRootId !== null && event.event_id !== options.threadRootId && threadRootId !== options.threadRootId) continue;
      messages.set(event.event_id, missingMessage(event, threadRootId, nameOf));
      continue;
    }
    if (event.type !== "m.room.message" || isCommandOrNotice(event, options.botUserId)) continue;
    const rel = relation(event.content);
    if (rel.rel_type === "m.replace") {
      edits.push(event);
      continue;
    }
    const threadRootId = rel.rel_type === "m.thread" && typeof rel.event_id === "string" ? rel.event_id : null;
    if (options.threadRootId !== null && event.event_id !== options.threadRootId && threadRootId !== options.threadRootId) continue;
    messages.set(event.event_id, toMessage(event, threadRootId, nameOf, messages));
  }
  for (const edit of edits) {
    const target = messages.get(relation(edit.content).event_id ?? "");
    const replacement = edit.content["m.new_content"];
    if (!target || edit.sender !== target.sender || typeof replacement !== "object" || replacement === null) continue;
    const body = (replacement as { body?: unknown }).body;
    if (typeof body === "string") {
      target.text = body;
      target.editedAt = new Date(edit.origin_server_ts);
    }
  }
  for (const reaction of reactions) {
    const rel = relation(reaction.content);
    const target = messages.get(rel.event_id ?? "");
    if (!target || rel.rel_type !== "m.annotation" || typeof rel.key !== "string" || rel.key === "") continue;
    const entry = {
      eventId: reaction.event_id,
      key: rel.key,
      sender: reaction.sender,
      senderName: nameOf(reaction.sender),
      sentAt: new Date(reaction.origin_server_ts),
    };
    target.reactions = [...(target.reactions ?? []), entry];
  }
  return [...messages.values()];
}

function toMessage(
  event: MatrixEvent,
  threadRootId: string | null,
  nameOf: (userId: string) => string,
  earlier: Map<string, TranscriptMessage>,
): TranscriptMessage {
  const { content } = event;
  const base = {
    eventId: event.event_id,
    sender: event.sender,
    senderName: nameOf(event.sender),
    sentAt: new Date(event.origin_server_ts),
    editedAt: null,
    threadRootId,
  };
  const repliedId = relation(content)["m.in_reply_to"]?.event_id;
  const replied = typeof repliedId === "string" ? earlier.get(repliedId) : undefined;
  const replyTo =
    typeof repliedId === "string"
      ? { eventId: repliedId, senderName: replied?.senderName ?? "an earlier message", excerpt: replied ? excerpt(replied.text) : "" }
      : null;
  const body = typeof content.body === "string" ? content.body : "";
  if (Object.keys(content).length === 0) return { ...base, kind: "removed", text: "(message deleted)", replyTo: null, image: null };
  const msgtype = content.msgtype;
  if (msgtype === "m.image" && typeof content.url === "string") {
    const info = typeof content.info === "object" && content.info !== null ? (content.info as { mimetype?: unknown }) : {};
    const mimetype = typeof info.mimetype === "string" ? info.mimetype : "application/octet-stream";
    const name = typeof content.filename === "string" ? content.filename : body || "image";
    return { ...base, kind: "image", text: name, replyTo, image: { mxcUrl: content.url, mimetype, name, bytes: null } };
  }
  if ((msgtype === "m.file" || msgtype === "m.video" || msgtype === "m.audio") && typeof content.url === "string") {
    const info = typeof content.info === "object" && content.info !== null ? (content.info as { mimetype?: unknown; size?: unknown }) : {};
    const name = typeof content.filename === "string" ? content.filename : body || "file";
    const file: TranscriptFile = {
      mxcUrl: content.url,
      mimetype: typeof info.mimetype === "string" ? info.mimetype : "application/octet-stream",
      name,
      declaredSize: typeof info.size === "number" ? info.size : null,
      bytes: null,
      notCaptured: "not retrieved",
    };
    return { ...base, kind: "file", text: name, replyTo, image: null, file };
  }
  return { ...base, kind: "text", text: replyTo ? stripReplyFallback(body) : body, replyTo, image: null };
}

/** An encrypted message Handover could not read: listed, never dropped. */
function missingMessage(event: MatrixEvent, threadRootId: string | null, nameOf: (userId: string) => string): TranscriptMessage {
  return {
    eventId: event.event_id,
    sender: event.sender,
    senderName: nameOf(event.sender),
    sentAt: new Date(event.origin_server_ts),
    editedAt: null,
    threadRootId,
    kind: "missing",
    text: MISSING_MESSAGE_TEXT,
    replyTo: null,
    image: null,
  };
}

/**
 * Whether the record holds this message's content. Text and deleted messages (nothing left to
 * hold) do; an image or file only once its bytes are in the document; a missing message never.
 */
export function holdsContent(message: TranscriptMessage): boolean {
  switch (message.kind) {
    case "text":
    case "removed":
      return true;
    case "image":
      return message.image?.bytes != null;
    case "file":
      return message.file?.bytes != null;
    case "missing":
      return false;
  }
}

/** PNG and JPEG are drawn in the PDF; other images (and anything not really PNG or JPEG) are attached to it instead. */
export function isDrawableImage(bytes: Uint8Array, mimetype: string): boolean {
  if (!["image/png", "image/jpeg", "image/jpg"].includes(mimetype)) return false;
  const png = bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47;
  const jpeg = bytes[0] === 0xff && bytes[1] === 0xd8;
  return png || jpeg;
}

/** What the transcript and the Communication say about a file. */
export function fileLine(file: TranscriptFile): string {
  return file.bytes ? `File: ${file.name} (embedded in the filed PDF)` : `File: ${file.name} (not captured: ${file.notCaptured ?? "not retrieved"})`;
}

function excerpt(text: string): string {
  const line = text.replace(/\s+/g, " ").trim();
  return line.length > 80 ? `${line.slice(0, 79)}…` : line;
}
