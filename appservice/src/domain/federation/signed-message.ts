import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject, sign, verify } from "node:crypto";
import { canonicalJson } from "../canonical-json.js";

/**
 * A message between two trusts' Handover instances. The signature is Ed25519 over the
 * canonical JSON of every other field, so the message can be stored, shown and re-verified
 * exactly as it travelled.
 */
export interface UnsignedMessage {
  /** Unique per sender: the receiver refuses an id it has seen (replay). */
  id: string;
  type: MessageType;
  /** Sender's and addressee's Matrix server names. */
  from: string;
  to: string;
  issued_at: string;
  expires_at: string;
  key_id: string;
  agreement_id: string;
  payload: Record<string, unknown>;
}

export interface SignedMessage extends UnsignedMessage {
  signature: string;
}

export const MESSAGE_TYPES = [
  "agreement.propose",
  "agreement.accept",
  "agreement.decline",
  "agreement.suspend",
  "agreement.resume",
  "agreement.revoke",
] as const;
export type MessageType = (typeof MESSAGE_TYPES)[number];

/** The bytes a signature covers. */
export function signingInput(message: UnsignedMessage | SignedMessage): Buffer {
  const { signature: _signature, ...unsigned } = message as SignedMessage;
  return Buffer.from(canonicalJson(unsigned), "utf8");
}

/** An Ed25519 key pair held in memory; the private half never leaves this object but as a PKCS#8 export for storage. */
export class Ed25519Key {
  private constructor(
    readonly keyId: string,
    private readonly privateKey: KeyObject,
  ) {}

  static generate(keyId: string): Ed25519Key {
    return new Ed25519Key(keyId, generateKeyPairSync("ed25519").privateKey);
  }

  static fromPkcs8(keyId: string, der: Buffer): Ed25519Key {
    return new Ed25519Key(keyId, createPrivateKey({ key: der, format: "der", type: "pkcs8" }));
  }

  toPkcs8(): Buffer {
    return this.privateKey.export({ format: "der", type: "pkcs8" });
  }

  /** Raw 32-byte public key, base64. */
  get publicKey(): string {
    const jwk = createPublicKey(this.privateKey).export({ format: "jwk" });
    return Buffer.from(jwk.x ?? "", "base64url").toString("base64");
  }

  sign(data: Buffer): string {
    return sign(null, data, this.privateKey).toString("base64");
  }
}

/** Verifies an Ed25519 signature with a raw base64 public key; malformed keys or signatures are simply false. */
export function verifySignature(publicKeyBase64: string, data: Buffer, signatureBase64: string): boolean {
  try {
    const raw = Buffer.from(publicKeyBase64, "base64");
    if (raw.length !== 32) return false;
    const key = createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: raw.toString("base64url") }, format: "jwk" });
    return verify(null, data, key, Buffer.from(signatureBase64, "base64"));
  } catch {
    return false;
  }
}

export function signMessage(message: UnsignedMessage, key: Ed25519Key): SignedMessage {
  if (message.key_id !== key.keyId) throw new Error(`message names key ${message.key_id} but is signed with ${key.keyId}`);
  return { ...message, signature: key.sign(signingInput(message)) };
}
