import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from "node:crypto";
import { HandoverError } from "../domain/errors.js";

const VERSION = 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;

/**
 * Seals Handover's crypto state for storage: AES-256-GCM under a key derived (HKDF-SHA256) from
 * the configured state key, with the row's identity as associated data so a sealed value cannot
 * be moved to another row. `keyCheck` identifies the key without revealing it.
 */
export class StateCipher {
  private readonly key: Buffer;
  readonly keyCheck: string;

  constructor(secret: string) {
    const raw = Buffer.from(secret, "utf8");
    if (raw.length < 32) throw new HandoverError("VALIDATION_FAILED", "e2ee.stateKey must be at least 32 characters");
    this.key = Buffer.from(hkdfSync("sha256", raw, Buffer.from("handover-e2ee-state"), Buffer.from("aes-256-gcm"), 32));
    this.keyCheck = createHmac("sha256", this.key).update("handover-e2ee-key-check").digest("base64url").slice(0, 22);
  }

  seal(plaintext: string, associated: string): Buffer {
    return this.sealBytes(Buffer.from(plaintext, "utf8"), associated);
  }

  sealBytes(plaintext: Uint8Array, associated: string): Buffer {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv("aes-256-gcm", this.key, iv);
    cipher.setAAD(Buffer.from(associated, "utf8"));
    const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return Buffer.concat([Buffer.from([VERSION]), iv, cipher.getAuthTag(), body]);
  }

  /** Throws E2EE_STATE_UNREADABLE when the value was sealed with another key or altered. */
  open(sealed: Buffer, associated: string): string {
    return this.openBytes(sealed, associated).toString("utf8");
  }

  /**
   * A 32-byte key for the crypto library's own store encryption, derived from the state key
   * (so the IndexedDB values are encrypted by matrix-sdk too, before Handover seals them).
   */
  storeKey(): Uint8Array {
    return new Uint8Array(hkdfSync("sha256", this.key, Buffer.from("handover-e2ee-store"), Buffer.from("matrix-sdk-store-cipher"), 32));
  }

  openBytes(sealed: Buffer, associated: string): Buffer {
    if (sealed.length < 1 + IV_BYTES + TAG_BYTES || sealed[0] !== VERSION) throw unreadable("unknown format");
    const iv = sealed.subarray(1, 1 + IV_BYTES);
    const tag = sealed.subarray(1 + IV_BYTES, 1 + IV_BYTES + TAG_BYTES);
    const decipher = createDecipheriv("aes-256-gcm", this.key, iv);
    decipher.setAAD(Buffer.from(associated, "utf8"));
    decipher.setAuthTag(tag);
    try {
      return Buffer.concat([decipher.update(sealed.subarray(1 + IV_BYTES + TAG_BYTES)), decipher.final()]);
    } catch {
      throw unreadable("authentication failed");
    }
  }
}

function unreadable(why: string): HandoverError {
  return new HandoverError("CONFLICT", `Stored end-to-end encryption state cannot be read (${why}): wrong e2ee.stateKey or altered data`);
}
