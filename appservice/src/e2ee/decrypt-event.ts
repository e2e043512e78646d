import * as wasm from "@matrix-org/matrix-sdk-crypto-wasm";
import type { DecryptOutcome, RoomEventDecryptor } from "../domain/e2ee/crypto-state.js";

/** The bot does not insist on verified senders: a clinician's unverified device still speaks for the record. */
export const untrusted = () => new wasm.DecryptionSettings(wasm.TrustRequirement.Untrusted);

/** Decrypts one `m.room.encrypted` event with the machine's megolm sessions. */
export async function decryptRoomEvent(machine: wasm.OlmMachine, event: Parameters<RoomEventDecryptor["decrypt"]>[0]): Promise<DecryptOutcome> {
  try {
    const decrypted = await machine.decryptRoomEvent(JSON.stringify(event), new wasm.RoomId(event.room_id), untrusted());
    const clear = JSON.parse(decrypted.event) as { type?: unknown; content?: unknown };
    const content = typeof clear.content === "object" && clear.content !== null ? { ...(clear.content as Record<string, unknown>) } : {};
    // m.relates_to travels unencrypted (so servers can aggregate); put it back as clients do.
    if (!("m.relates_to" in content) && event.content["m.relates_to"] !== undefined) content["m.relates_to"] = event.content["m.relates_to"];
    return { ok: true, type: typeof clear.type === "string" ? clear.type : "m.room.message", content };
  } catch (error) {
    if (error instanceof wasm.MegolmDecryptionError) {
      const reason =
        error.code === wasm.DecryptionErrorCode.MissingRoomKey
          ? "missing-key"
          : error.code === wasm.DecryptionErrorCode.UnknownMessageIndex
            ? "unknown-index"
            : "failed";
      return { ok: false, reason, detail: error.description };
    }
    return { ok: false, reason: "failed", detail: (error as Error).message ?? String(error) };
  }
}

/**
 * A memory-only working copy holding one room's megolm sessions, for reading many events of that
 * room (filing): the device's own store reads each session back from its (mirrored, encrypted)
 * IndexedDB on every decryption, about 2.6 times slower (docs/e2ee.md, bench e2ee). Close it after.
 */
export async function roomWorkingCopy(machine: wasm.OlmMachine, roomId: string): Promise<RoomEventDecryptor & { close(): void }> {
  const keys = await machine.exportRoomKeys((session) => session.roomId.toString() === roomId);
  const copy = await wasm.OlmMachine.initialize(new wasm.UserId(machine.userId.toString()), new wasm.DeviceId(`${machine.deviceId.toString()}READER`));
  await copy.importExportedRoomKeys(keys, () => undefined);
  return { problem: () => null, decrypt: (event) => decryptRoomEvent(copy, event), close: () => copy.close() };
}
