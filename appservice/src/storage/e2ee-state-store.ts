import type { DataSource } from "typeorm";
import type { CryptoStateStore, SealedDeviceRecord, SealedRoomKey } from "../domain/e2ee/crypto-state.js";

interface DeviceRow {
  user_id: string;
  device_id: string;
  key_check: string;
  cross_signing: Buffer | null;
  room_key_count: number;
  inbox_position: string;
}

interface KeyRow {
  room_id: string;
  session_id: string;
  sender_key: string;
  sealed: Buffer;
}

/** The bot device's sealed crypto state (values are encrypted before they get here). */
export class PostgresCryptoStateStore implements CryptoStateStore {
  constructor(private readonly db: DataSource) {}

  async loadDevice(userId: string): Promise<SealedDeviceRecord | null> {
    const rows = (await this.db.query("SELECT * FROM e2ee_devices WHERE user_id = $1", [userId])) as DeviceRow[];
    const row = rows[0];
    if (!row) return null;
    return {
      userId: row.user_id,
      deviceId: row.device_id,
      keyCheck: row.key_check,
      crossSigning: row.cross_signing,
      roomKeyCount: row.room_key_count,
      inboxPosition: Number(row.inbox_position),
    };
  }

  async saveDevice(record: Omit<SealedDeviceRecord, "inboxPosition">): Promise<void> {
    await this.db.query(
      `INSERT INTO e2ee_devices (user_id, device_id, key_check, cross_signing, room_key_count, updated_at) VALUES ($1, $2, $3, $4, $5, now())
       ON CONFLICT (user_id) DO UPDATE SET device_id = $2, key_check = $3, cross_signing = $4, room_key_count = $5, updated_at = now(),
         inbox_position = CASE WHEN e2ee_devices.device_id = $2 THEN e2ee_devices.inbox_position ELSE 0 END`,
      [record.userId, record.deviceId, record.keyCheck, record.crossSigning, record.roomKeyCount],
    );
  }

  async saveInboxPosition(userId: string, deviceId: string, position: number): Promise<void> {
    await this.db.query("UPDATE e2ee_devices SET inbox_position = GREATEST(inbox_position, $3) WHERE user_id = $1 AND device_id = $2", [
      userId,
      deviceId,
      position,
    ]);
  }

  async addRoomKeys(userId: string, keys: SealedRoomKey[]): Promise<number> {
    return this.db.transaction(async (manager) => {
      let added = 0;
      for (const key of keys) {
        const result = (await manager.query(
          `INSERT INTO e2ee_room_keys (user_id, room_id, session_id, sender_key, sealed) VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT DO NOTHING RETURNING session_id`,
          [userId, key.roomId, key.sessionId, key.senderKey, key.sealed],
        )) as unknown[];
        added += result.length;
      }
      if (added > 0) {
        await manager.query(
          "UPDATE e2ee_devices SET room_key_count = (SELECT count(*) FROM e2ee_room_keys WHERE user_id = $1), updated_at = now() WHERE user_id = $1",
          [userId],
        );
      }
      return added;
    });
  }

  async roomKeys(userId: string): Promise<SealedRoomKey[]> {
    const rows = (await this.db.query("SELECT room_id, session_id, sender_key, sealed FROM e2ee_room_keys WHERE user_id = $1", [userId])) as KeyRow[];
    return rows.map((row) => ({ roomId: row.room_id, sessionId: row.session_id, senderKey: row.sender_key, sealed: row.sealed }));
  }
}
