import { generateKeyPairSync, type KeyObject, sign } from "node:crypto";
import { describe, expect, it } from "vitest";
import { canonicalJson } from "../domain/canonical-json.js";
import type { KeysQueryAnswer } from "./bot-client.js";
import { crossSigningFrom } from "./cross-signing-reader.js";

const USER = "@amy:trust.example";

function keyPair() {
  const { publicKey, privateKey } = generateKeyPairSync("ed25519");
  const raw = publicKey.export({ format: "der", type: "spki" }).subarray(12);
  return { publicBase64: raw.toString("base64").replace(/=+$/, ""), privateKey };
}

function signed<T extends Record<string, unknown>>(
  object: T,
  keyId: string,
  privateKey: KeyObject,
): T & { signatures: Record<string, Record<string, string>> } {
  const { signatures, ...rest } = object as T & { signatures?: Record<string, Record<string, string>> };
  const signature = sign(null, Buffer.from(canonicalJson(rest)), privateKey)
    .toString("base64")
    .replace(/=+$/, "");
  return { ...object, signatures: { ...signatures, [USER]: { ...signatures?.[USER], [keyId]: signature } } };
}

function answerWith(signDevice: (device: Record<string, unknown>) => Record<string, unknown>, signSelfSigning = true): KeysQueryAnswer {
  const master = keyPair();
  const selfSigning = keyPair();
  const deviceKey = keyPair();
  const masterId = `ed25519:${master.publicBase64}`;
  const sskId = `ed25519:${selfSigning.publicBase64}`;
  const ssk = { user_id: USER, usage: ["self_signing"], keys: { [sskId]: selfSigning.publicBase64 } };
  const device = (id: string) => ({ user_id: USER, device_id: id, algorithms: ["m.megolm.v1.aes-sha2"], keys: { [`ed25519:${id}`]: deviceKey.publicBase64 } });
  const phone = signDevice(signed(device("PHONE"), `ed25519:PHONE`, deviceKey.privateKey));
  const laptop = signed(device("LAPTOP"), `ed25519:LAPTOP`, deviceKey.privateKey);
  return {
    device_keys: { [USER]: { PHONE: signed(phone, sskId, selfSigning.privateKey) as never, LAPTOP: laptop as never } },
    master_keys: { [USER]: { keys: { [masterId]: master.publicBase64 } } },
    self_signing_keys: { [USER]: (signSelfSigning ? signed(ssk, masterId, master.privateKey) : ssk) as never },
  };
}

describe("cross-signing from /keys/query", () => {
  it("a device with a valid signature by the self-signing key is cross-signed; one without is not", () => {
    const state = crossSigningFrom(
      answerWith((device) => device),
      USER,
    );
    expect(state.hasIdentity).toBe(true);
    expect([...state.signedDevices]).toEqual(["PHONE"]);
  });

  it("a signature that does not verify (keys changed after signing) does not count", () => {
    const answer = answerWith((device) => device);
    const phone = answer.device_keys?.[USER]?.PHONE as Record<string, unknown>;
    phone.keys = { "ed25519:PHONE": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" };
    expect(crossSigningFrom(answer, USER).signedDevices.size).toBe(0);
  });

  it("a self-signing key not signed by the master key is no identity at all", () => {
    const state = crossSigningFrom(
      answerWith((device) => device, false),
      USER,
    );
    expect(state.hasIdentity).toBe(false);
    expect(state.signedDevices.size).toBe(0);
  });

  it("a person who never set up cross-signing has no identity and no cross-signed device", () => {
    expect(crossSigningFrom({ device_keys: { [USER]: {} } }, USER)).toEqual({ hasIdentity: false, signedDevices: new Set() });
  });
});
