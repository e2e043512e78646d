import type { DataSource } from "typeorm";
import type { PinnedKey } from "../domain/federation/organisation.js";

/** Each partner's key as first seen, moved forward only along verified rotations. */
export class PostgresPeerKeyPins {
  constructor(private readonly db: DataSource) {}

  async get(serverName: string): Promise<PinnedKey | null> {
    const [row] = (await this.db.query("SELECT key_id, public_key FROM federation_peers WHERE server_name = $1", [serverName])) as {
      key_id: string;
      public_key: string;
    }[];
    return row ? { keyId: row.key_id, publicKey: row.public_key } : null;
  }

  async pin(serverName: string, key: PinnedKey, at: Date): Promise<void> {
    await this.db.query(
      `INSERT INTO federation_peers (server_name, key_id, public_key, pinned_at, updated_at) VALUES ($1, $2, $3, $4, $4)
       ON CONFLICT (server_name) DO UPDATE SET key_id = EXCLUDED.key_id, public_key = EXCLUDED.public_key, updated_at = EXCLUDED.updated_at`,
      [serverName, key.keyId, key.publicKey, at],
    );
  }
}
