/**
 * The hand-over between EHR filing and retention: "the events of room R up to event X (sent at
 * T) were filed in the patient's record, under reference F". Filing records ranges once the
 * record system has accepted them; retention deletes filed content after its delay and never
 * deletes unfiled clinical content unless a policy allows it.
 */
export interface FiledRange {
  roomId: string;
  /** Last event included in the filing; everything in the room up to and including it is filed. */
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

export interface FilingLedger {
  /** Idempotent per filingRef: recording the same filing twice keeps one range. */
  recordFiled(range: FiledRange): Promise<void>;
  /** The newest filed range of a room's main timeline (not threads), if any. */
  latestFiled(roomId: string): Promise<FiledRange | null>;
  /** Every filed range of a room, oldest first. */
  filedRanges(roomId: string): Promise<FiledRange[]>;
}
