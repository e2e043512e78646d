import type { MatrixEvent } from "../matrix-event.js";

/** A room's timeline between two points, as read for filing. */
export interface RoomTimeline {
  /** The room has m.room.encryption in its state. */
  encrypted: boolean;
  /** Events after the range's start up to its end, oldest first. */
  events: MatrixEvent[];
  /** Display names of everyone who has been a member, by Matrix ID. */
  displayNames: Record<string, string>;
  roomName: string | null;
  /**
   * The reader decrypted the room's encrypted events; any `m.room.encrypted` event left in
   * `events` is one it could not decrypt (its key never reached Handover), filed as missing.
   */
  decrypted?: boolean;
}

export interface TimelineRange {
  /** Exclusive start: the last event of the previous filing; null from the room's beginning. */
  afterEventId: string | null;
  /** Inclusive end; null means up to the newest event. */
  upToEventId: string | null;
}

export interface MediaContent {
  bytes: Uint8Array;
  contentType: string;
}

/**
 * The one way filing reads messages. This issue implements it over the client-server API for
 * rooms that are not end-to-end encrypted; a later one adds decryption behind the same interface.
 */
export interface ConversationReader {
  read(roomId: string, range: TimelineRange): Promise<RoomTimeline>;
  /** The bytes behind an mxc:// URL, authenticated as the bot; refused above maxBytes. */
  media(mxcUrl: string, maxBytes: number): Promise<MediaContent>;
}
