import type { RoomEventDecryptor } from "../domain/e2ee/crypto-state.js";
import { HandoverError } from "../domain/errors.js";
import type { MatrixEvent } from "../domain/matrix-event.js";
import type { ConversationReader, MediaContent, RoomTimeline, TimelineRange } from "../domain/records/conversation.js";
import { asEncryptedFile, decryptAttachment, type EncryptedFile } from "./attachment-crypto.js";

/** Keys of encrypted attachments seen while reading, by mxc URL (bounded). */
const MAX_FILES = 10_000;

interface KnownFile {
  file: EncryptedFile;
  mimetype: string | null;
}

/**
 * The conversation reader for end-to-end encrypted rooms: reads the timeline with the plain
 * reader, decrypts each `m.room.encrypted` event with the bot device's room keys, and leaves the
 * ones it cannot decrypt as `m.room.encrypted` (with the reason in `unsigned`), which the
 * transcript lists as missing. Encrypted attachments (`content.file`) are downloaded by the plain
 * reader and decrypted here after their hash is checked.
 */
export class DecryptingConversationReader implements ConversationReader {
  private readonly files = new Map<string, KnownFile>();

  constructor(
    private readonly plain: ConversationReader,
    private readonly decryptor: RoomEventDecryptor,
  ) {}

  async read(roomId: string, range: TimelineRange): Promise<RoomTimeline> {
    const timeline = await this.plain.read(roomId, range);
    const hasEncrypted = timeline.events.some((event) => event.type === "m.room.encrypted");
    if (!timeline.encrypted && !hasEncrypted) return timeline;
    const problem = this.decryptor.problem();
    if (problem) throw new HandoverError("CONFLICT", `This room is end-to-end encrypted and Handover cannot read it now: ${problem}. Nothing was filed.`);
    const scoped = hasEncrypted && this.decryptor.forRoom ? await this.decryptor.forRoom(roomId) : null;
    try {
      const events: MatrixEvent[] = [];
      for (const event of timeline.events) events.push(event.type === "m.room.encrypted" ? await this.decryptOne(event, scoped ?? this.decryptor) : event);
      return { ...timeline, events, decrypted: true };
    } finally {
      scoped?.close();
    }
  }

  private async decryptOne(event: MatrixEvent, decryptor: RoomEventDecryptor): Promise<MatrixEvent> {
    const outcome = await decryptor.decrypt(event);
    if (!outcome.ok) return { ...event, unsigned: { ...(event.unsigned ?? {}), "org.handover.undecryptable": outcome.reason } };
    const content = { ...outcome.content };
    const file = asEncryptedFile(content.file);
    if (file && typeof content.url !== "string") {
      const info = typeof content.info === "object" && content.info !== null ? (content.info as { mimetype?: unknown }) : {};
      this.remember(file.url, { file, mimetype: typeof info.mimetype === "string" ? info.mimetype : null });
      content.url = file.url;
    }
    return { ...event, type: outcome.type, content };
  }

  private remember(url: string, known: KnownFile): void {
    if (this.files.size >= MAX_FILES) {
      const oldest = this.files.keys().next().value;
      if (oldest !== undefined) this.files.delete(oldest);
    }
    this.files.set(url, known);
  }

  async media(mxcUrl: string, maxBytes: number): Promise<MediaContent> {
    const known = this.files.get(mxcUrl);
    const media = await this.plain.media(mxcUrl, maxBytes);
    if (!known) return media;
    return { bytes: decryptAttachment(media.bytes, known.file), contentType: known.mimetype ?? "" };
  }
}
