import { createCipheriv, createDecipheriv, randomBytes, scryptSync } from "node:crypto";
import type { DataSource } from "typeorm";
import type { RotationStatement } from "../domain/federation/organisation.js";
import { Ed25519Key } from "../domain/federation/signed-message.js";
import type { SigningKeyStore, StoredSigningKey } from "../domain/federation/signing-keys.js";

interface KeyRow {
  key_id: string;
  private_key_encrypted: Buffer;
  created_at: Date;
  retired_at: Date | null;
  rotation: RotationStatement | null;
}

const VERSION = 1;
const SALT = Buffer.from("handover-federation-signing-key-v1");

/**
 * Signing keys in PostgreSQL, the private half sealed with AES-256-GCM under a key derived
 * (scrypt) from `federation.keyEncryptionSecret`, so a database dump alone does not give the key away.
 */
export class PostgresSigningKeyStore implements SigningKeyStore {
  private readonly sealingKey: Buffer;

  constructor(
    private readonly db: DataSource,
    secret: string,
  ) {
    this.sealingKey = scryptSync(secret, SALT, 32);
  }

  private seal(plain: Buffer, keyId: string): Buffer {
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", this.sealingKey, iv);
    cipher.setAAD(Buffer.from(keyId));
    const body = Buffer.concat([cipher.update(plain), cipher.final()]);
    return Buffer.concat([Buffer.from([VERSION]), iv, cipher.getAuthTag(), body]);
  }

  private open(sealed: Buffer, keyId: string): Buffer {
    if (sealed[0] !== VERSION) throw new Error(`signing key ${keyId}: unknown sealing format`);
    const decipher = createDecipheriv("aes-256-gcm", this.sealingKey, sealed.subarray(1, 13));
    decipher.setAAD(Buffer.from(keyId));
    decipher.setAuthTag(sealed.subarray(13, 29));
    try {
      return Buffer.concat([decipher.update(sealed.subarray(29)), decipher.final()]);
    } catch {
      throw new Error(`signing key ${keyId} cannot be decrypted: federation.keyEncryptionSecret is not the one it was sealed with`);
    }
  }

  async all(): Promise<StoredSigningKey[]> {
    const rows = (await this.db.query("SELECT * FROM federation_signing_keys ORDER BY created_at, key_id")) as KeyRow[];
    return rows.map((row) => ({
      key: Ed25519Key.fromPkcs8(row.key_id, this.open(row.private_key_encrypted, row.key_id)),
      createdAt: row.created_at,
      retiredAt: row.retired_at,
      rotation: row.rotation,
    }));
  }

  async add(stored: StoredSigningKey, retiring: string | null): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      if (retiring !== null) {
        const retired = (await tx.query("UPDATE federation_signing_keys SET retired_at = $2 WHERE key_id = $1 AND retired_at IS NULL RETURNING key_id", [
          retiring,
          stored.createdAt,
        ])) as unknown[];
        if (retired.length === 0) return false;
      }
      const inserted = (await tx.query(
        `INSERT INTO federation_signing_keys (key_id, public_key, private_key_encrypted, created_at, rotation)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING key_id`,
        [
          stored.key.keyId,
          stored.key.publicKey,
          this.seal(stored.key.toPkcs8(), stored.key.keyId),
          stored.createdAt,
          stored.rotation ? JSON.stringify(stored.rotation) : null,
        ],
      )) as unknown[];
      return inserted.length > 0;
    });
  }
}
