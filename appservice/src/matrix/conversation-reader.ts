import type { ConversationReader, MediaContent, RoomTimeline, TimelineRange } from "../domain/records/conversation.js";
import type { BotClient } from "./bot-client.js";

const PAGE = 500;
/** Stop reading a room after this many events: a filing is a conversation, not an archive. */
const MAX_EVENTS = 50_000;

type Client = Pick<BotClient, "roomMessages" | "memberDisplayNames" | "snapshot" | "downloadMedia">;

/**
 * Reads a room's timeline over the client-server API as the bot (`GET /rooms/{roomId}/messages`,
 * paging backwards from the newest event to the range's start). Works for rooms that are not
 * end-to-end encrypted; it reports encryption and the domain refuses such rooms.
 */
export class ClientServerConversationReader implements ConversationReader {
  constructor(private readonly client: Client) {}

  async read(roomId: string, range: TimelineRange): Promise<RoomTimeline> {
    const [snapshot, displayNames] = await Promise.all([this.client.snapshot(roomId), this.client.memberDisplayNames(roomId)]);
    const newestFirst: RoomTimeline["events"] = [];
    let reachedEnd = range.upToEventId === null;
    let from: string | null = null;
    for (;;) {
      const page = await this.client.roomMessages(roomId, from, PAGE);
      let reachedStart = false;
      for (const event of page.chunk) {
        if (event.event_id === range.afterEventId) {
          reachedStart = true;
          break;
        }
        if (!reachedEnd) {
          if (event.event_id !== range.upToEventId) continue;
          reachedEnd = true;
        }
        if (event.state_key === undefined) newestFirst.push({ ...event, room_id: roomId });
      }
      if (reachedStart || !page.end || page.chunk.length === 0 || newestFirst.length >= MAX_EVENTS) break;
      from = page.end;
    }
    return { encrypted: snapshot.encrypted, events: newestFirst.reverse(), displayNames, roomName: snapshot.name };
  }

  media(mxcUrl: string, maxBytes: number): Promise<MediaContent> {
    return this.client.downloadMedia(mxcUrl, maxBytes);
  }
}
