import { createDecipheriv, createHash } from "node:crypto";
import { HandoverError } from "../domain/errors.js";

/** The `file` object of an encrypted attachment (Matrix spec, "Sending encrypted attachments"). */
export interface EncryptedFile {
  url: string;
  key: { k: string; alg?: string };
  iv: string;
  hashes: { sha256: string };
}

const unpadded = (base64: string) => base64.replace(/=+$/, "");

export function asEncryptedFile(value: unknown): EncryptedFile | null {
  if (typeof value !== "object" || value === null) return null;
  const file = value as Partial<EncryptedFile>;
  if (typeof file.url !== "string" || typeof file.iv !== "string" || typeof file.key?.k !== "string" || typeof file.hashes?.sha256 !== "string") return null;
  return file as EncryptedFile;
}

/** Checks the SHA-256 of the ciphertext, then decrypts AES-256-CTR with the JWK key. */
export function decryptAttachment(ciphertext: Uint8Array, file: EncryptedFile): Uint8Array {
  const hash = createHash("sha256").update(ciphertext).digest("base64");
  if (unpadded(hash) !== unpadded(file.hashes.sha256)) throw new HandoverError("CONFLICT", "encrypted attachment does not match its hash");
  const key = Buffer.from(file.key.k, "base64url");
  const iv = Buffer.from(file.iv, "base64");
  if (key.length !== 32 || iv.length !== 16) throw new HandoverError("CONFLICT", "encrypted attachment has a malformed key or iv");
  const decipher = createDecipheriv("aes-256-ctr", key, iv);
  return new Uint8Array(Buffer.concat([decipher.update(ciphertext), decipher.final()]));
}
