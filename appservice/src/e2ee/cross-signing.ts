import * as wasm from "@matrix-org/matrix-sdk-crypto-wasm";
import type { Logger } from "pino";
import type { CryptoTransport } from "./crypto-transport.js";
import { sendOutgoingRequest } from "./outgoing-requests.js";
import type { StateCipher } from "./state-cipher.js";

export interface CrossSigningDeps {
  machine: wasm.OlmMachine;
  deviceId: string;
  userId: string;
  cipher: StateCipher;
  transport: Pick<CryptoTransport, "call">;
  logger: Logger;
  /** Sends one of the machine's requests and marks it sent. */
  send(request: Parameters<typeof sendOutgoingRequest>[2]): Promise<void>;
  /** Sends everything the machine wants sent. */
  flushOutgoing(): Promise<void>;
}

/**
 * Signs a new device of the bot with the bot's own cross-signing identity, so clients that share
 * keys only with cross-signed devices include it. The first time, the identity is made (Synapse
 * lets an appservice upload it without user-interactive auth) and its private keys are returned
 * sealed for storage; later, the stored identity signs the new device. A failure is logged and
 * leaves the device unsigned (decryption does not need it).
 */
export async function setUpCrossSigning(deps: CrossSigningDeps, sealed: Buffer | null): Promise<Buffer | null> {
  const { machine, deviceId, userId, cipher, transport } = deps;
  try {
    if (sealed) {
      const keys = JSON.parse(cipher.open(sealed, `${userId}|cross-signing`)) as { master?: string; self?: string; user?: string };
      await machine.importCrossSigningKeys(keys.master ?? null, keys.self ?? null, keys.user ?? null);
      await machine.updateTrackedUsers([new wasm.UserId(userId)]);
      await deps.flushOutgoing();
      const device = await machine.getDevice(new wasm.UserId(userId), new wasm.DeviceId(deviceId));
      if (device) await sendOutgoingRequest(transport, deviceId, await device.verify());
      return sealed;
    }
    const bootstrap = await machine.bootstrapCrossSigning(true);
    if (bootstrap.uploadKeysRequest) await deps.send(bootstrap.uploadKeysRequest);
    await transport.call("POST", "/keys/device_signing/upload", bootstrap.uploadSigningKeysRequest.body, deviceId);
    await transport.call("POST", "/keys/signatures/upload", bootstrap.uploadSignaturesRequest.body, deviceId);
    const exported = await machine.exportCrossSigningKeys();
    if (!exported) return null;
    const keys = { master: exported.masterKey, self: exported.self_signing_key, user: exported.userSigningKey };
    return cipher.seal(JSON.stringify(keys), `${userId}|cross-signing`);
  } catch (error) {
    // Decryption does not need cross-signing; clients that insist on verified devices will not share keys.
    deps.logger.warn({ err: error }, "could not cross-sign the bot's device");
    return sealed;
  }
}
