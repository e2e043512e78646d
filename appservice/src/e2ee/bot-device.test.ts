import * as wasm from "@matrix-org/matrix-sdk-crypto-wasm";
import pino from "pino";
import { describe, expect, it } from "vitest";
import type { CryptoStateStore, SealedDeviceRecord, SealedRoomKey } from "../domain/e2ee/crypto-state.js";
import { RecordingAudit } from "../testing/fakes.js";
import { MemoryDeviceStore } from "../testing/memory-device-store.js";
import { BotDevice } from "./bot-device.js";
import { StateCipher } from "./state-cipher.js";

const BOT = "@handover:trust-a.test";
const ALICE = "@alice:trust-a.test";
const ROOM = "!ward:trust-a.test";
const KEY = "unit-test-state-key-0123456789-0123456789";

class MemoryCryptoStore implements CryptoStateStore {
  device: SealedDeviceRecord | null = null;
  keys: SealedRoomKey[] = [];
  async loadDevice() {
    return this.device;
  }
  async saveDevice(record: Omit<SealedDeviceRecord, "inboxPosition">) {
    this.device = { ...record, inboxPosition: this.device?.deviceId === record.deviceId ? this.device.inboxPosition : 0 };
  }
  async saveInboxPosition(_userId: string, deviceId: string, position: number) {
    if (this.device?.deviceId === deviceId) this.device.inboxPosition = Math.max(this.device.inboxPosition, position);
  }
  async addRoomKeys(_userId: string, keys: SealedRoomKey[]) {
    const fresh = keys.filter((key) => !this.keys.some((k) => k.roomId === key.roomId && k.sessionId === key.sessionId && k.senderKey === key.senderKey));
    this.keys.push(...fresh);
    if (this.device) this.device.roomKeyCount = this.keys.length;
    return fresh.length;
  }
  async roomKeys() {
    return this.keys;
  }
}

/** Just enough of a homeserver's device and key endpoints for two devices, keeping to-device events for the bot. */
class FakeHomeserver {
  devices = new Set<string>();
  deviceKeys = new Map<string, unknown>();
  otks = new Map<string, Record<string, unknown>>();
  crossSigning: Record<string, unknown> = {};
  toBot: Record<string, unknown>[] = [];
  /** Every to-device message stays in the device's inbox, as in Synapse, until read past. */
  inbox: { stream: number; device: string; event: Record<string, unknown> }[] = [];
  stream = 0;
  encryptedRooms = new Set<string>();

  answer(userId: string, deviceId: string | null, method: string, path: string, raw: unknown): unknown {
    const body = (typeof raw === "string" ? JSON.parse(raw) : (raw ?? {})) as Record<string, Record<string, unknown>>;
    if (path === "/devices" && method === "GET") return { devices: [...this.devices].map((device_id) => ({ device_id })) };
    if (path.startsWith("/devices/")) {
      const id = decodeURIComponent(path.slice(9));
      if (method === "PUT") this.devices.add(id);
      else this.devices.delete(id);
      return {};
    }
    const me = `${userId}|${deviceId}`;
    if (path === "/keys/upload") {
      if (body.device_keys) this.deviceKeys.set(me, body.device_keys);
      const mine = { ...(this.otks.get(me) ?? {}), ...(body.one_time_keys ?? {}) };
      this.otks.set(me, mine);
      return { one_time_key_counts: { signed_curve25519: Object.keys(mine).length } };
    }
    if (path === "/keys/device_signing/upload") {
      this.crossSigning = body;
      return {};
    }
    if (path === "/keys/signatures/upload") return { failures: {} };
    if (path === "/keys/query") {
      const result: Record<string, Record<string, unknown>> = {};
      for (const user of Object.keys(body.device_keys ?? {})) {
        result[user] = {};
        for (const [key, value] of this.deviceKeys) if (key.startsWith(`${user}|`)) result[user][key.split("|")[1] as string] = value;
      }
      const own =
        userId === BOT && this.crossSigning.master_key
          ? {
              master_keys: { [BOT]: this.crossSigning.master_key },
              self_signing_keys: { [BOT]: this.crossSigning.self_signing_key },
              user_signing_keys: { [BOT]: this.crossSigning.user_signing_key },
            }
          : {};
      return { device_keys: result, failures: {}, ...own };
    }
    if (path === "/keys/claim") {
      const claimed: Record<string, Record<string, unknown>> = {};
      for (const [user, devices] of Object.entries(body.one_time_keys ?? {})) {
        for (const device of Object.keys(devices as object)) {
          const keys = this.otks.get(`${user}|${device}`) ?? {};
          const first = Object.keys(keys)[0];
          if (!first) continue;
          claimed[user] = { ...(claimed[user] ?? {}), [device]: { [first]: keys[first] } };
          delete keys[first];
        }
      }
      return { one_time_keys: claimed, failures: {} };
    }
    if (path.startsWith("/sendToDevice/")) {
      const type = decodeURIComponent(path.split("/")[2] as string);
      for (const [user, devices] of Object.entries(body.messages ?? {})) {
        for (const [device, content] of Object.entries(devices as object)) {
          this.toBot.push({ to_user_id: user, to_device_id: device, sender: userId, type, content });
          this.inbox.push({ stream: ++this.stream, device, event: { sender: userId, type, content } });
        }
      }
      return {};
    }
    throw new Error(`unexpected ${method} ${path}`);
  }

  transportFor(userId: string) {
    return {
      call: async (method: string, path: string, body: unknown, deviceId: string | null) => JSON.stringify(this.answer(userId, deviceId, method, path, body)),
      createDevice: async (deviceId: string) => void this.devices.add(deviceId),
      deleteDevice: async (deviceId: string) => void this.devices.delete(deviceId),
      deviceIds: async () => [...this.devices],
      ping: async () => undefined,
      roomRecipients: async () => [BOT, ALICE],
      roomEncryption: async (roomId: string) => (this.encryptedRooms.has(roomId) ? { algorithm: "m.megolm.v1.aes-sha2" } : null),
      deviceInbox: async (deviceId: string, since: number, limit: number) => {
        this.inbox = this.inbox.filter((item) => item.device !== deviceId || item.stream > since);
        const page = this.inbox.filter((item) => item.device === deviceId).slice(0, limit);
        return { events: page.map((item) => item.event), next: page.at(-1)?.stream ?? since };
      },
    };
  }
}

async function flush(server: FakeHomeserver, machine: wasm.OlmMachine): Promise<void> {
  for (let round = 0; round < 5; round++) {
    const requests = await machine.outgoingRequests();
    if (requests.length === 0) return;
    for (const request of requests) {
      const path = request instanceof wasm.KeysUploadRequest ? "/keys/upload" : request instanceof wasm.KeysQueryRequest ? "/keys/query" : "/keys/claim";
      await machine.markRequestAsSent(request.id as string, request.type, JSON.stringify(server.answer(ALICE, "ALICEDEV", "POST", path, request.body)));
    }
  }
}

describe("BotDevice against an in-process homeserver", () => {
  it("receives room keys from transactions, keeps its whole store sealed, and comes back as the same device after a restart", async () => {
    await wasm.initAsync();
    const server = new FakeHomeserver();
    const store = new MemoryCryptoStore();
    const deviceStore = new MemoryDeviceStore();
    const audit = new RecordingAudit();
    const deps = {
      userId: BOT,
      appserviceId: "handover",
      displayName: "Handover",
      transport: server.transportFor(BOT),
      store,
      deviceStore,
      cipher: new StateCipher(KEY),
      audit,
      logger: pino({ level: "silent" }),
    };
    const first = new BotDevice(deps);
    await first.start();
    expect(first.problem()).toBeNull();
    const firstId = first.currentDeviceId as string;
    expect(server.crossSigning.master_key).toBeTruthy();
    expect(deviceStore.entries.size).toBeGreaterThan(0);
    for (const entry of deviceStore.entries.values()) expect(entry.sealed.toString("latin1")).not.toContain("pickle");

    const alice = await wasm.OlmMachine.initialize(new wasm.UserId(ALICE), new wasm.DeviceId("ALICEDEV"));
    await flush(server, alice);
    await alice.updateTrackedUsers([new wasm.UserId(BOT)]);
    await flush(server, alice);
    const claim = await alice.getMissingSessions([new wasm.UserId(BOT)]);
    if (claim) await alice.markRequestAsSent(claim.id, claim.type, JSON.stringify(server.answer(ALICE, "ALICEDEV", "POST", "/keys/claim", claim.body)));
    const shareAndEncrypt = async (room: string, body: string) => {
      for (const request of await alice.shareRoomKey(new wasm.RoomId(room), [new wasm.UserId(BOT)], new wasm.EncryptionSettings())) {
        await alice.markRequestAsSent(
          request.id,
          request.type,
          JSON.stringify(server.answer(ALICE, "ALICEDEV", "PUT", `/sendToDevice/${request.event_type}/${request.txn_id}`, request.body)),
        );
      }
      const content = JSON.parse(await alice.encryptRoomEvent(new wasm.RoomId(room), "m.room.message", JSON.stringify({ msgtype: "m.text", body })));
      return { event_id: `$${body.length}`, room_id: room, sender: ALICE, type: "m.room.encrypted", origin_server_ts: Date.now(), content };
    };
    const event = await shareAndEncrypt(ROOM, "Obs stable");

    await first.receiveTransaction({ events: [], "de.sorunome.msc2409.to_device": server.toBot.splice(0) });
    expect(store.keys).toHaveLength(1);
    expect(store.keys[0]?.sealed.toString("latin1")).not.toContain("session_key");
    expect(await first.decrypt(event)).toMatchObject({ ok: true, content: { body: "Obs stable" } });
    await first.stop();

    // Sent while Handover is down: Synapse leaves it out of transactions, but it waits in the inbox.
    const whileDown = await shareAndEncrypt("!ward3:trust-a.test", "Sent while Handover was down");
    server.toBot.splice(0);

    // The same device again: its Olm session with Alice survived, so a key she sends it after
    // the restart, over that session (no new one-time key claimed), opens too.
    const second = new BotDevice(deps);
    await second.start();
    expect(second.currentDeviceId).toBe(firstId);
    expect(server.devices.has(firstId)).toBe(true);
    expect(await second.decrypt(event)).toMatchObject({ ok: true, content: { body: "Obs stable" } });
    expect(await alice.getMissingSessions([new wasm.UserId(BOT)])).toBeFalsy();
    expect(await second.decrypt(whileDown)).toMatchObject({ ok: false, reason: "missing-key" });
    expect(await second.catchUp()).toBeGreaterThanOrEqual(2);
    expect(await second.decrypt(whileDown)).toMatchObject({ ok: true, content: { body: "Sent while Handover was down" } });
    // Read past and acknowledged: the next read starts after it, and the inbox is emptied.
    expect(await second.catchUp()).toBe(0);
    expect(server.inbox.filter((item) => item.device === firstId)).toHaveLength(0);
    const later = await shareAndEncrypt("!ward2:trust-a.test", "Sent after the restart");
    await second.receiveTransaction({ events: [], "de.sorunome.msc2409.to_device": server.toBot.splice(0) });
    expect(await second.decrypt(later)).toMatchObject({ ok: true, content: { body: "Sent after the restart" } });
    expect(await second.decrypt({ ...event, room_id: "!other:trust-a.test" })).toMatchObject({ ok: false });
    expect(audit.actions().filter((action) => action === "e2ee.device_started")).toHaveLength(2);

    // The bot's own notice in an encrypted room goes out encrypted, for Alice's device to read.
    server.encryptedRooms.add(ROOM);
    expect(await second.encryptFor("!plain:trust-a.test", "m.room.message", { msgtype: "m.notice", body: "plain" })).toBeNull();
    const sealed = await second.encryptFor(ROOM, "m.room.message", { msgtype: "m.notice", body: "Patient: JONES, Ann" });
    expect(sealed?.type).toBe("m.room.encrypted");
    expect(JSON.stringify(sealed)).not.toContain("JONES");
    const forAlice = server.toBot.filter((message) => message.to_user_id === ALICE);
    server.toBot = server.toBot.filter((message) => message.to_user_id !== ALICE);
    await alice.receiveSyncChanges(
      JSON.stringify(forAlice.map(({ to_user_id: _u, to_device_id: _d, ...event }) => event)),
      new wasm.DeviceLists(),
      new Map(),
      undefined,
    );
    const notice = { event_id: "$notice", room_id: ROOM, sender: BOT, type: "m.room.encrypted", origin_server_ts: Date.now(), content: sealed?.content };
    const opened = await alice.decryptRoomEvent(JSON.stringify(notice), new wasm.RoomId(ROOM), new wasm.DecryptionSettings(wasm.TrustRequirement.Untrusted));
    expect(JSON.parse(opened.event).content.body).toBe("Patient: JONES, Ann");
    await second.stop();

    // A database that fails for a moment is not a lost store: that start fails, the device is kept.
    const load = deviceStore.load.bind(deviceStore);
    deviceStore.load = async () => {
      throw new Error("connection reset");
    };
    const flaky = new BotDevice(deps);
    await flaky.start();
    expect(flaky.problem()).toMatch(/could not start: connection reset/);
    expect(server.devices.has(firstId)).toBe(true);
    expect(audit.actions()).not.toContain("e2ee.store_unreadable");
    deviceStore.load = load;
    await flaky.stop();

    // The device deleted on the homeserver: reported, a new device, room keys restored.
    server.devices.delete(firstId);
    const third = new BotDevice(deps);
    await third.start();
    expect(third.currentDeviceId).not.toBe(firstId);
    expect(audit.actions()).toContain("e2ee.device_missing");
    expect(await third.decrypt(event)).toMatchObject({ ok: true, content: { body: "Obs stable" } });
    expect(await third.decrypt(later)).toMatchObject({ ok: true, content: { body: "Sent after the restart" } });
    // The replaced device's stored store is gone; only the new one's is kept.
    expect([...deviceStore.entries.values()].every((entry) => entry.db.includes(third.currentDeviceId as string))).toBe(true);
    await third.stop();

    const wrongKey = new BotDevice({ ...deps, cipher: new StateCipher(`${KEY}-other`) });
    await wrongKey.start();
    expect(wrongKey.problem()).toMatch(/different e2ee.stateKey/);
    await expect(wrongKey.decrypt(event)).rejects.toThrow(/cannot be read/);
    expect(audit.actions()).toContain("e2ee.state_unreadable");
  });
});
