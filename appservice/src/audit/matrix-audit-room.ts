import type { AnchorSink, AnchorSource, DeletedAnchor, PublishedAnchor, SignedAuditAnchor } from "../domain/audit/anchor.js";
import type { BotClient } from "../matrix/bot-client.js";

/** The content key that carries the anchor in the audit room's notices. */
export const ANCHOR_CONTENT_KEY = "org.handover.audit_anchor";
const PAGE = 100;

type AuditRoomBot = Pick<BotClient, "join" | "stateContent" | "postClearMessage" | "roomMessages" | "botUserId">;

function readAnchor(value: unknown): SignedAuditAnchor | null {
  if (typeof value !== "object" || value === null) return null;
  const v = value as Record<string, unknown>;
  if (typeof v.seq !== "number" || typeof v.hash !== "string" || typeof v.at !== "string" || typeof v.server !== "string") return null;
  if (typeof v.keyId !== "string" || typeof v.signature !== "string") return null;
  return { seq: v.seq, hash: v.hash, at: v.at, server: v.server, keyId: v.keyId, signature: v.signature };
}

/**
 * The audit room on the trust's Synapse: anchors go there as notices from the bot, and are
 * read back by `audit verify`. Synapse keeps them in its own database under its own role, out
 * of reach of whoever holds Handover's database.
 */
export class MatrixAuditRoom implements AnchorSink, AnchorSource {
  readonly name = "audit room";
  private joined = false;

  constructor(
    private readonly bot: AuditRoomBot,
    private readonly roomId: string,
  ) {}

  async publish(anchor: SignedAuditAnchor): Promise<void> {
    await this.ensureJoined();
    const body = `Audit trail anchor: entry ${anchor.seq}, hash ${anchor.hash} (${anchor.at}, signed ${anchor.keyId})`;
    await this.bot.postClearMessage(this.roomId, { msgtype: "m.notice", body, [ANCHOR_CONTENT_KEY]: anchor }, `audit-anchor:${anchor.seq}:${anchor.hash}`);
  }

  /** Every anchor the bot has posted in the room, oldest first. */
  async anchors(): Promise<PublishedAnchor[]> {
    return (await this.readBack()).anchors;
  }

  /** The anchors, oldest first, and the bot's messages there that were redacted (deleted anchors). */
  async readBack(): Promise<{ anchors: PublishedAnchor[]; deleted: DeletedAnchor[] }> {
    const timeline: ({ kind: "anchor"; entry: PublishedAnchor } | { kind: "deleted"; where: string; by: string | null })[] = [];
    let from: string | null = null;
    for (;;) {
      const page = await this.bot.roomMessages(this.roomId, from, PAGE);
      for (const event of page.chunk) {
        // Only the bot's own messages: anyone else in the room could post something that looks like an anchor.
        if (event.type !== "m.room.message" || event.sender !== this.bot.botUserId) continue;
        const redaction = event.unsigned?.redacted_because as { sender?: unknown } | undefined;
        if (redaction !== undefined) {
          timeline.push({ kind: "deleted", where: event.event_id, by: typeof redaction?.sender === "string" ? redaction.sender : null });
          continue;
        }
        const anchor = readAnchor(event.content[ANCHOR_CONTENT_KEY]);
        if (anchor) timeline.push({ kind: "anchor", entry: { anchor, where: event.event_id } });
      }
      if (!page.end || page.chunk.length === 0) break;
      from = page.end;
    }
    const anchors: PublishedAnchor[] = [];
    const deleted: DeletedAnchor[] = [];
    for (const item of timeline.reverse()) {
      if (item.kind === "anchor") anchors.push(item.entry);
      else deleted.push({ where: item.where, by: item.by, afterSeq: anchors.at(-1)?.anchor.seq ?? 0 });
    }
    return { anchors, deleted };
  }

  private async ensureJoined(): Promise<void> {
    if (this.joined) return;
    // Joining a room the bot is already in changes nothing; the trust invites the bot once.
    await this.bot.join(this.roomId);
    if (await this.bot.stateContent(this.roomId, "m.room.encryption")) {
      throw new Error(`the audit room ${this.roomId} is encrypted: anchors must be readable without a device; use a room without encryption`);
    }
    this.joined = true;
  }
}
