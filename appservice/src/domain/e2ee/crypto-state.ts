import type { MatrixEvent } from "../matrix-event.js";

/**
 * What Handover keeps of its bot device besides the device's own crypto store (device-store.ts):
 * which device it is, which state key sealed it, the cross-signing keys, and every megolm room
 * key on its own, sealed (encrypted at rest) by the state cipher before it reaches storage, so
 * a replacement device can still read what the bot received before.
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
  /** How far the device has read its to-device inbox on the homeserver (0 for a new device). */
  inboxPosition: number;
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
  /** Saves the record; the inbox position is kept while the device stays the same, else reset. */
  saveDevice(record: Omit<SealedDeviceRecord, "inboxPosition">): Promise<void>;
  saveInboxPosition(userId: string, deviceId: string, position: number): Promise<void>;
  /**
   * Stores room keys and updates the device record's count of them; a key already stored (same
   * room, session, sender key) is kept as it was. Returns how many were new.
   */
  addRoomKeys(userId: string, keys: SealedRoomKey[]): Promise<number>;
  roomKeys(userId: string): Promise<SealedRoomKey[]>;
}

/** What decrypting one `m.room.encrypted` event gave. */
export type DecryptOutcome =
  | { ok: true; type: string; content: Record<string, unknown> }
  | { ok: false; reason: "missing-key" | "unknown-index" | "failed"; detail: string };

/** Decrypts room events with the keys the bot's device received (and kept). */
export interface RoomEventDecryptor {
  decrypt(event: MatrixEvent): Promise<DecryptOutcome>;
  /** Null when the device works; otherwise why encrypted rooms cannot be read (stated, never ignored). */
  problem(): string | null;
  /** Optional: a faster decryptor for reading many events of one room; closed after the read. */
  forRoom?(roomId: string): Promise<RoomEventDecryptor & { close(): void }>;
}
