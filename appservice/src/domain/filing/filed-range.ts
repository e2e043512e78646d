/**
 * The hand-over between EHR filing and retention: "filing F of room R, read up to event X (sent
 * at T), holds these events and lists, without holding, those". Filing records it once the
 * record system has accepted it; retention deletes filed content after its delay and never
 * deletes unfiled clinical content unless a policy allows it.
 *
 * Filed means captured: an event counts as filed only when some filing's document holds its
 * content. A message whose key never arrived, a file too large or unreadable, anything the
 * filing could not read, is listed in `uncaptured` and stays unfiled clinical content, and so
 * does every event no filing lists at all. The range alone says what was read, not what is held.
 */
export interface FiledEvent {
  eventId: string;
  /** origin_server_ts of the event. */
  ts: Date;
}

export interface FiledRange {
  roomId: string;
  /** Last event read for the filing (its end); not a claim that everything before it is filed. */
  upToEventId: string;
  /** origin_server_ts of that event. */
  upToTs: Date;
  /** Set when a thread, not the whole room, was filed. */
  threadRootId: string | null;
  /** When the record system accepted it. */
  filedAt: Date;
  /** The filing's stable reference, e.g. the DocumentReference identifier. */
  filingRef: string;
  /** Who filed it (Matrix user ID). */
  filedBy: string;
}

/** What one filing holds, event by event: retention treats only `captured` as filed. */
export interface FilingCapture {
  /**
   * Events the filed document holds, plus events that carry nothing the record needs (the bot's
   * notices, `!handover` commands, redactions, edits applied to a message the document holds).
   */
  captured: FiledEvent[];
  /** Events of the filing's scope that the document names, or leaves out, without holding them. */
  uncaptured: FiledEvent[];
}

export interface FilingLedger {
  /** Idempotent per filingRef: recording the same filing twice keeps one range and one capture. */
  recordFiled(range: FiledRange, capture: FilingCapture): Promise<void>;
  /** The newest filed range of a room's main timeline (not threads), if any. */
  latestFiled(roomId: string): Promise<FiledRange | null>;
  /** Every filed range of a room, oldest first. */
  filedRanges(roomId: string): Promise<FiledRange[]>;
}
