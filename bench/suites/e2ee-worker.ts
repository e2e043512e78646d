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
import { decryptRoomEvent, roomWorkingCopy } from "../../appservice/src/e2ee/decrypt-event.js";
import { DecryptingConversationReader } from "../../appservice/src/e2ee/decrypting-conversation-reader.js";
import { PersistentIndexedDb } from "../../appservice/src/e2ee/persistent-idb.js";
import { StateCipher } from "../../appservice/src/e2ee/state-cipher.js";
import { MemoryDeviceStore } from "../../appservice/src/testing/memory-device-store.js";
import { OlmPair } from "../../appservice/src/testing/olm-pair.js";

const EVENTS = 2000;
const ROTATE_EVERY = 100;
const ROOM = "!bench:bench.test";
const BOT = "@handover:bench.test";
const kb = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(readFileSync("/proc/self/status", "utf8"))?.[1] ?? Number.NaN);

const cipher = new StateCipher("bench-state-key-0123456789-0123456789");
const backend = new MemoryDeviceStore();
/** The bot's device as Handover runs it: its crypto store in IndexedDB, mirrored (sealed) after every change. */
async function mirroredDevice(mirror: PersistentIndexedDb): Promise<wasm.OlmMachine> {
  (globalThis as { indexedDB?: unknown }).indexedDB = mirror.factory;
  const handle = await wasm.StoreHandle.openWithKey(mirror.prefix, cipher.storeKey());
  return wasm.OlmMachine.initFromStore(new wasm.UserId(BOT), new wasm.DeviceId("BOTDEV"), handle);
}
await wasm.initAsync();
const mirror = new PersistentIndexedDb(BOT, "bench-bot", backend, cipher);
await mirror.reset();
const bot = await mirroredDevice(mirror);
const pair = await OlmPair.create("@alice:bench.test", BOT, bot);
await mirror.flush();
const flushMs: number[] = [];
const events: MatrixEvent[] = [];
const encryptStarted = performance.now();
for (let index = 0; index < EVENTS; index++) {
  if (index % ROTATE_EVERY === 0) {
    if (index > 0) await pair.sender.invalidateGroupSession(new wasm.RoomId(ROOM));
    await pair.shareRoomKey(ROOM);
    await pair.deliverToReceiver();
    // What a transaction carrying a room key costs on top: mirroring the store's changes before the ack.
    const flushStarted = performance.now();
    await mirror.flush();
    flushMs.push(performance.now() - flushStarted);
  }
  const body = `Message ${index}: obs stable, NEWS ${index % 7}, plan reviewed with the registrar at the bedside.`;
  events.push(await pair.encrypt(ROOM, `$e${index}`, { msgtype: "m.text", body }, Date.UTC(2026, 0, 6, 8) + index * 1000));
}
const encryptMs = performance.now() - encryptStarted;

// A restart: the same device back from the mirrored store (what Handover does)...
await mirror.close();
bot.close();
const storeStarted = performance.now();
const reopenedMirror = new PersistentIndexedDb(BOT, "bench-bot", backend, cipher);
const storeEntries = await reopenedMirror.restore();
const reopened = await mirroredDevice(reopenedMirror);
const storeRestoreMs = performance.now() - storeStarted;

// ...and the fallback, a replacement device given the room keys kept sealed on their own.
const restoreStarted = performance.now();
const exported = JSON.parse(await reopened.exportRoomKeys(() => true)) as { session_id: string }[];
const sealed = exported.map((key) => cipher.seal(JSON.stringify(key), key.session_id));
const opened = sealed.map((value, index) => JSON.parse(cipher.open(value, exported[index]?.session_id ?? "")) as unknown);
const fresh = await wasm.OlmMachine.initialize(new wasm.UserId(BOT), new wasm.DeviceId("BENCHNEW"));
await fresh.importExportedRoomKeys(JSON.stringify(opened), () => undefined);
const restoreMs = performance.now() - restoreStarted;

const fallback: RoomEventDecryptor = { problem: () => null, decrypt: (event) => decryptRoomEvent(fresh, event) };
for (const event of events.slice(0, 200)) if (!(await fallback.decrypt(event)).ok) throw new Error("the replacement device could not read a message");
// Filing reads through the reopened device, as after a real restart: the reader asks it for a
// working copy of the room's sessions (forRoom), as BotDevice gives. The naive way, decrypting
// each event straight from the device's store, is measured alongside.
const decryptor: RoomEventDecryptor = {
  problem: () => null,
  decrypt: (event) => decryptRoomEvent(reopened, event),
  forRoom: (roomId) => roomWorkingCopy(reopened, roomId),
};
const naiveStarted = performance.now();
for (const event of events) if (!(await decryptRoomEvent(reopened, event)).ok) throw new Error("the reopened device could not read a message");
const naiveMs = performance.now() - naiveStarted;
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
flushMs.sort((a, b) => a - b);
console.log(
  JSON.stringify({
    decryptMs,
    naiveMs,
    encryptMs,
    restoreMs,
    storeRestoreMs,
    storeEntries,
    storeKb: backend.bytes() / 1024,
    flushP50Ms: flushMs[Math.floor(flushMs.length / 2)],
    flushMaxMs: flushMs.at(-1),
    sessions: exported.length,
    peakRssMb: kb("VmHWM") / 1024,
  }),
);
