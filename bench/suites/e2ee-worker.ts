/**
 * Runs in its own Node process so its peak RSS is the decryption's alone: a clinician's device
 * (a real OlmMachine) encrypts 2,000 messages in one room, rotating its megolm session every 100
 * messages as clients do, and shares the keys with the bot's device over Olm. Then, as after a
 * restart, the bot's room keys are exported, sealed and opened (StateCipher) and imported into a
 * fresh device, and the 2,000 events are read the way filing reads them (the decrypting
 * conversation reader, then the transcript). Prints the figures as JSON.
 */
import { readFileSync } from "node:fs";
import * as wasm from "@matrix-org/matrix-sdk-crypto-wasm";
import type { RoomEventDecryptor } from "../../appservice/src/domain/e2ee/crypto-state.js";
import type { MatrixEvent } from "../../appservice/src/domain/matrix-event.js";
import { assembleTranscript } from "../../appservice/src/domain/records/transcript.js";
import { decryptRoomEvent } from "../../appservice/src/e2ee/decrypt-event.js";
import { DecryptingConversationReader } from "../../appservice/src/e2ee/decrypting-conversation-reader.js";
import { StateCipher } from "../../appservice/src/e2ee/state-cipher.js";
import { OlmPair } from "../../appservice/src/testing/olm-pair.js";

const EVENTS = 2000;
const ROTATE_EVERY = 100;
const ROOM = "!bench:bench.test";
const BOT = "@handover:bench.test";
const kb = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(readFileSync("/proc/self/status", "utf8"))?.[1] ?? Number.NaN);

const pair = await OlmPair.create("@alice:bench.test", BOT);
const events: MatrixEvent[] = [];
const encryptStarted = performance.now();
for (let index = 0; index < EVENTS; index++) {
  if (index % ROTATE_EVERY === 0) {
    if (index > 0) await pair.sender.invalidateGroupSession(new wasm.RoomId(ROOM));
    await pair.shareRoomKey(ROOM);
    await pair.deliverToReceiver();
  }
  const body = `Message ${index}: obs stable, NEWS ${index % 7}, plan reviewed with the registrar at the bedside.`;
  events.push(await pair.encrypt(ROOM, `$e${index}`, { msgtype: "m.text", body }, Date.UTC(2026, 0, 6, 8) + index * 1000));
}
const encryptMs = performance.now() - encryptStarted;

// A restart: the keys go through PostgreSQL's sealed form into a new device.
const restoreStarted = performance.now();
const cipher = new StateCipher("bench-state-key-0123456789-0123456789");
const exported = JSON.parse(await pair.receiver.exportRoomKeys(() => true)) as { session_id: string }[];
const sealed = exported.map((key) => cipher.seal(JSON.stringify(key), key.session_id));
const opened = sealed.map((value, index) => JSON.parse(cipher.open(value, exported[index]?.session_id ?? "")) as unknown);
const fresh = await wasm.OlmMachine.initialize(new wasm.UserId(BOT), new wasm.DeviceId("BENCHNEW"));
await fresh.importExportedRoomKeys(JSON.stringify(opened), () => undefined);
const restoreMs = performance.now() - restoreStarted;

const decryptor: RoomEventDecryptor = { problem: () => null, decrypt: (event) => decryptRoomEvent(fresh, event) };
const reader = new DecryptingConversationReader(
  {
    read: async () => ({ encrypted: true, events, displayNames: {}, roomName: "Bench" }),
    media: () => Promise.reject(new Error("not used")),
  },
  decryptor,
);
// Warm up the code paths on a short read, as a running Handover has.
await new DecryptingConversationReader(
  {
    read: async () => ({ encrypted: true, events: events.slice(0, 50), displayNames: {}, roomName: "Bench" }),
    media: () => Promise.reject(new Error("not used")),
  },
  decryptor,
).read(ROOM, { afterEventId: null, upToEventId: null });
const started = performance.now();
const timeline = await reader.read(ROOM, { afterEventId: null, upToEventId: null });
const messages = assembleTranscript(timeline, { botUserId: BOT, threadRootId: null });
const decryptMs = performance.now() - started;
const missing = messages.filter((message) => message.kind === "missing").length;
if (messages.length !== EVENTS || missing > 0) throw new Error(`expected ${EVENTS} readable messages, got ${messages.length} (${missing} missing)`);
console.log(JSON.stringify({ decryptMs, encryptMs, restoreMs, sessions: exported.length, peakRssMb: kb("VmHWM") / 1024 }));
