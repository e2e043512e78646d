/**
 * What Handover keeps of its bot device's end-to-end encryption state, sealed (encrypted at
 * rest) by the state cipher before it reaches storage. The Olm account itself lives in memory
 * (matrix-sdk-crypto-wasm has no persistent store in Node), so each start makes a new device
 * and re-imports the megolm room keys and the cross-signing keys kept here.
 */
export interface SealedDeviceRecord {
  userId: string;
  deviceId: string;
  /** Proves which state key sealed the rows, so a changed or wrong key is detected, not ignored. */
  keyCheck: string;
  /** Sealed JSON of the cross-signing private keys; null until cross-signing is set up. */
  crossSigning: Buffer | null;
  /** How many room keys were stored when the record was last written. */
  roomKeyCount: number;
}

export interface SealedRoomKey {
  roomId: string;
  sessionId: string;
  senderKey: string;
  /** Sealed JSON of one exported megolm session (the `exportRoomKeys` format). */
  sealed: Buffer;
}

export interface CryptoStateStore {
  loadDevice(userId: string): Promise<SealedDeviceRecord | null>;
  saveDevice(record: SealedDeviceRecord): Promise<void>;
  /** Stores room keys; a key already stored (same room, session, sender key) is kept as it was. */
  addRoomKeys(userId: string, keys: SealedRoomKey[]): Promise<number>;
  roomKeys(userId: string): Promise<SealedRoomKey[]>;
  countRoomKeys(userId: string): Promise<number>;
}

/** What decrypting one `m.room.encrypted` event gave. */
export type DecryptOutcome =
  | { ok: true; type: string; content: Record<string, unknown> }
  | { ok: false; reason: "missing-key" | "unknown-index" | "failed"; detail: string };

/** Decrypts room events with the keys the bot's device received (and kept). */
export interface RoomEventDecryptor {
  decrypt(event: {
    event_id: string;
    room_id: string;
    sender: string;
    type: string;
    origin_server_ts: number;
    content: Record<string, unknown>;
  }): Promise<DecryptOutcome>;
  /** Null when the device works; otherwise why encrypted rooms cannot be read (stated, never ignored). */
  problem(): string | null;
}
