import * as wasm from "@matrix-org/matrix-sdk-crypto-wasm";
import type { DecryptOutcome, RoomEventDecryptor } from "../domain/e2ee/crypto-state.js";

/** The bot does not insist on verified senders: a clinician's unverified device still speaks for the record. */
const settings = () => new wasm.DecryptionSettings(wasm.TrustRequirement.Untrusted);

/** Decrypts one `m.room.encrypted` event with the machine's megolm sessions. */
export async function decryptRoomEvent(machine: wasm.OlmMachine, event: Parameters<RoomEventDecryptor["decrypt"]>[0]): Promise<DecryptOutcome> {
  try {
    const decrypted = await machine.decryptRoomEvent(JSON.stringify(event), new wasm.RoomId(event.room_id), settings());
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
