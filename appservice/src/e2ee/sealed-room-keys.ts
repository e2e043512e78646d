import type * as wasm from "@matrix-org/matrix-sdk-crypto-wasm";
import type { Logger } from "pino";
import type { CryptoStateStore, SealedRoomKey } from "../domain/e2ee/crypto-state.js";
import type { StateCipher } from "./state-cipher.js";

interface ExportedKey {
  room_id: string;
  session_id: string;
  sender_key: string;
}

const keyId = (roomId: string, sessionId: string, senderKey: string) => `${roomId}|${sessionId}|${senderKey}`;

/**
 * Every megolm room key the bot's device receives, also kept on its own in PostgreSQL, each
 * sealed (`exportRoomKeys` format) with its identity as associated data: a replacement device
 * gets them all, and a reopened one any its store missed.
 */
export class SealedRoomKeys {
  private readonly stored = new Set<string>();

  constructor(
    private readonly userId: string,
    private readonly store: CryptoStateStore,
    private readonly cipher: StateCipher,
    private readonly logger: Logger,
    private readonly report: (action: string, details: Record<string, number>) => Promise<void>,
  ) {}

  /** Room keys held (restored and received). */
  get size(): number {
    return this.stored.size;
  }

  /** Imports the stored keys into the machine; fewer than `expected`, or unreadable ones, are reported. */
  async restore(machine: wasm.OlmMachine, expected: number): Promise<number> {
    const rows = await this.store.roomKeys(this.userId);
    const sessions: unknown[] = [];
    let unreadable = 0;
    for (const row of rows) {
      try {
        sessions.push(JSON.parse(this.cipher.open(row.sealed, keyId(row.roomId, row.sessionId, row.senderKey))));
        this.stored.add(keyId(row.roomId, row.sessionId, row.senderKey));
      } catch {
        unreadable++;
      }
    }
    if (sessions.length > 0) await machine.importExportedRoomKeys(JSON.stringify(sessions), () => undefined);
    if (unreadable > 0 || rows.length < expected) {
      // Reported; the device still works and the messages those keys opened are listed as missing.
      await this.report("e2ee.room_keys_lost", { expected, found: rows.length, unreadable });
    }
    return sessions.length;
  }

  /** Stores, sealed, the keys the machine received since the last call. */
  async storeNew(machine: wasm.OlmMachine): Promise<void> {
    const exported = JSON.parse(
      await machine.exportRoomKeys((session) => !this.stored.has(keyId(session.roomId.toString(), session.sessionId, session.senderKey.toBase64()))),
    ) as ExportedKey[];
    if (exported.length === 0) return;
    const rows: SealedRoomKey[] = exported.map((key) => ({
      roomId: key.room_id,
      sessionId: key.session_id,
      senderKey: key.sender_key,
      sealed: this.cipher.seal(JSON.stringify(key), keyId(key.room_id, key.session_id, key.sender_key)),
    }));
    await this.store.addRoomKeys(this.userId, rows);
    for (const key of exported) this.stored.add(keyId(key.room_id, key.session_id, key.sender_key));
    this.logger.debug({ count: rows.length }, "room keys stored");
  }
}
