import { createPublicKey, verify } from "node:crypto";
import { canonicalJson } from "../domain/canonical-json.js";
import type { CrossSigningReader, CrossSigningState } from "../domain/devices/model.js";
import type { KeysQueryAnswer } from "./bot-client.js";

/** The bot's /keys/query; narrow so tests and the bench can pass their own. */
export interface KeysQuerier {
  queryKeys(userIds: readonly string[]): Promise<KeysQueryAnswer>;
}

/** Ed25519 public keys in Matrix are unpadded base64 of the 32 raw bytes. */
function ed25519Key(unpaddedBase64: string) {
  const der = Buffer.concat([Buffer.from("302a300506032b6570032100", "hex"), Buffer.from(unpaddedBase64, "base64")]);
  return createPublicKey({ key: der, format: "der", type: "spki" });
}

/** Checks `signature` by `publicKey` over a signed JSON object (without its signatures and unsigned parts). */
export function signedBy(object: Record<string, unknown>, publicKey: string, signature: string): boolean {
  const { signatures: _signatures, unsigned: _unsigned, ...signedPart } = object;
  try {
    return verify(null, Buffer.from(canonicalJson(signedPart)), ed25519Key(publicKey), Buffer.from(signature, "base64"));
  } catch {
    return false;
  }
}

/**
 * A device is cross-signed when its keys carry a valid signature by the person's self-signing
 * key, and that key carries a valid signature by their master key. The signatures are checked
 * here rather than taken from what the server says, so a key the person never signed does not
 * count.
 */
export function crossSigningFrom(answer: KeysQueryAnswer, userId: string): CrossSigningState {
  const master = Object.entries(answer.master_keys?.[userId]?.keys ?? {})[0];
  const selfSigning = answer.self_signing_keys?.[userId];
  const selfSigningKey = Object.entries(selfSigning?.keys ?? {})[0];
  if (!master || !selfSigning || !selfSigningKey) return { hasIdentity: false, signedDevices: new Set() };
  const [masterId, masterPublic] = master;
  const [selfSigningId, selfSigningPublic] = selfSigningKey;
  const masterSignature = selfSigning.signatures?.[userId]?.[masterId];
  if (!masterSignature || !signedBy(selfSigning, masterPublic, masterSignature)) return { hasIdentity: false, signedDevices: new Set() };
  const signedDevices = new Set<string>();
  for (const [deviceId, device] of Object.entries(answer.device_keys?.[userId] ?? {})) {
    const signature = device.signatures?.[userId]?.[selfSigningId];
    if (signature && signedBy(device, selfSigningPublic, signature)) signedDevices.add(deviceId);
  }
  return { hasIdentity: true, signedDevices };
}

export class BotCrossSigningReader implements CrossSigningReader {
  constructor(
    private readonly querier: KeysQuerier,
    private readonly batchSize = 100,
  ) {}

  async crossSigned(userIds: readonly string[]): Promise<Map<string, CrossSigningState>> {
    const states = new Map<string, CrossSigningState>();
    for (let start = 0; start < userIds.length; start += this.batchSize) {
      const batch = userIds.slice(start, start + this.batchSize);
      const answer = await this.querier.queryKeys(batch);
      for (const userId of batch) states.set(userId, crossSigningFrom(answer, userId));
    }
    return states;
  }
}
