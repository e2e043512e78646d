import { randomBytes } from "node:crypto";
import * as wasm from "@matrix-org/matrix-sdk-crypto-wasm";
import type { Logger } from "pino";
import type { AuditRecorder } from "../domain/audit/audit-trail.js";
import type { CryptoStateStore, DecryptOutcome, RoomEventDecryptor } from "../domain/e2ee/crypto-state.js";
import type { DeviceStoreBackend } from "../domain/e2ee/device-store.js";
import { HandoverError } from "../domain/errors.js";
import { SerialQueue } from "../domain/serial-queue.js";
import { setUpCrossSigning } from "./cross-signing.js";
import type { CryptoTransport } from "./crypto-transport.js";
import { decryptRoomEvent, roomWorkingCopy, untrusted } from "./decrypt-event.js";
import { DeviceInbox } from "./device-inbox.js";
import { sendOutgoingRequest } from "./outgoing-requests.js";
import { PersistentIndexedDb, StoreUnreadableError } from "./persistent-idb.js";
import { SealedRoomKeys } from "./sealed-room-keys.js";
import type { StateCipher } from "./state-cipher.js";
import { type TransactionCrypto, transactionCrypto } from "./transaction-crypto.js";

export interface BotDeviceDeps {
  userId: string;
  displayName: string;
  transport: Pick<CryptoTransport, "call" | "createDevice" | "deleteDevice" | "deviceIds" | "ping" | "deviceInbox" | "roomEncryption" | "roomRecipients">;
  /** How often to read the device's to-device inbox (default 30 s). */
  inboxEveryMs?: number;
  appserviceId: string;
  store: CryptoStateStore;
  /** Where the device's whole crypto store (Olm account, sessions) is mirrored. */
  deviceStore: DeviceStoreBackend;
  cipher: StateCipher;
  audit: AuditRecorder;
  logger: Logger;
}

const DEVICE_PREFIX = "HANDOVER";
const storeName = (deviceId: string) => `handover-crypto-${deviceId}`;

/**
 * The bot's end-to-end encryption device: an OlmMachine (matrix-sdk-crypto-wasm) fed from
 * appservice transactions (MSC4203 to-device events, MSC3202 device lists and one-time key
 * counts) that sends its own key uploads, queries, claims and to-device messages as the bot's
 * device. Its crypto store (IndexedDB, in memory in Node) is mirrored into PostgreSQL, sealed,
 * before each transaction is acknowledged, so a restart brings back the same device with its
 * Olm account and sessions. The megolm room keys are also kept sealed on their own: if the
 * device store is lost or the device was deleted, a new device (MSC4190) is made, the loss
 * reported, and what the bot received before can still be read.
 */
export class BotDevice implements RoomEventDecryptor {
  private machine: wasm.OlmMachine | null = null;
  private mirror: PersistentIndexedDb | null = null;
  private deviceId: string | null = null;
  private reused = false;
  /** The device's requests go out in passes, one after another (see sendPending). */
  private readonly outgoingPasses = new SerialQueue();
  private queuedPass: Promise<void> | null = null;
  private inbox: DeviceInbox | null = null;
  /** The bot's own encrypted sends, one at a time (room key sharing must not interleave). */
  private readonly sends = new SerialQueue();
  private readonly roomKeys: SealedRoomKeys;
  private lastCryptoAt = Date.now();
  private watchdog: NodeJS.Timeout | null = null;
  /** One state change at a time: the machine's requests and the store must not interleave. */
  private readonly stateChanges = new SerialQueue();
  private trouble: string | null = "the encryption device has not started";

  constructor(private readonly deps: BotDeviceDeps) {
    this.roomKeys = new SealedRoomKeys(deps.userId, deps.store, deps.cipher, deps.logger, (action, details) => this.report(action, details));
  }

  get currentDeviceId(): string | null {
    return this.deviceId;
  }

  problem(): string | null {
    return this.trouble;
  }

  /**
   * Starts the device. A failure (homeserver down, refused) is reported and leaves encrypted
   * rooms refused (readiness shows it) rather than stopping Handover; the next start tries again.
   */
  async start(): Promise<void> {
    try {
      await this.startDevice();
    } catch (error) {
      this.trouble = `the encryption device could not start: ${(error as Error).message}`;
      this.deps.logger.error({ err: error }, "end-to-end encryption device did not start");
      await this.deps.audit
        .record({ actor: this.deps.userId, action: "e2ee.device_failed", target: this.deps.userId, details: { error: (error as Error).message.slice(0, 200) } })
        .catch(() => undefined);
    }
  }

  private async startDevice(): Promise<void> {
    const { userId, store, cipher, transport, logger } = this.deps;
    await wasm.initAsync();
    const record = await store.loadDevice(userId);
    if (record && record.keyCheck !== cipher.keyCheck) {
      this.trouble = "the stored encryption state was sealed with a different e2ee.stateKey; restore the old key (nothing was overwritten)";
      await this.report("e2ee.state_unreadable", { reason: "key-check-mismatch", deviceId: record.deviceId });
      return;
    }
    const existing = (await transport.deviceIds()).filter((id) => id.startsWith(DEVICE_PREFIX));
    if (!record && existing.length > 0) {
      // Devices of ours on the homeserver but no stored state: the state was lost.
      await this.report("e2ee.state_lost", { reason: "no-stored-state", previousDevices: existing.length });
    }
    const machine = (record && (await this.reopen(record.deviceId, existing))) || (await this.newDevice());
    this.machine = machine;
    const deviceId = this.deviceId as string;
    this.inbox = new DeviceInbox(
      {
        userId,
        deviceId,
        transport,
        store,
        logger,
        // No key counts here: "unchanged" (MSC4186 semantics), not "none left".
        take: (events) =>
          this.takeIn((m) => m.receiveSyncChangesMsc4186(JSON.stringify(events), new wasm.DeviceLists([], []), new Map(), undefined, untrusted())),
      },
      this.reused ? (record?.inboxPosition ?? 0) : 0,
    );
    // Room keys kept on their own: a new device needs them all; a reopened one gets any its store missed.
    const restored = await this.roomKeys.restore(machine, record?.roomKeyCount ?? 0);
    await this.flushOutgoing();
    const crossSigning = this.reused
      ? (record?.crossSigning ?? null)
      : await setUpCrossSigning(
          { machine, deviceId, userId, cipher, transport, logger, send: (request) => this.send(request), flushOutgoing: () => this.flushOutgoing() },
          record?.crossSigning ?? null,
        );
    await this.mirror?.flush();
    await store.saveDevice({ userId, deviceId, keyCheck: cipher.keyCheck, crossSigning, roomKeyCount: this.roomKeys.size });
    // Only now that the new device is recorded: the stored stores of the ones it replaces go.
    if (!this.reused) await this.mirror?.forgetOthers();
    for (const old of existing) {
      if (old === deviceId) continue;
      await transport.deleteDevice(old).catch((error: unknown) => logger.warn({ err: error, deviceId: old }, "could not delete an old bot device"));
    }
    await this.deps.audit.record({
      actor: userId,
      action: "e2ee.device_started",
      target: deviceId,
      details: {
        reopened: this.reused,
        roomKeysRestored: restored,
        replacedDevices: existing.filter((id) => id !== deviceId).length,
        crossSigned: crossSigning !== null,
      },
    });
    if (this.trouble === "the encryption device has not started") this.trouble = null;
    logger.info({ deviceId, reopened: this.reused, roomKeysRestored: restored }, "end-to-end encryption device ready");
  }

  /** Opens the OlmMachine on a mirrored store (restored from PostgreSQL, or new and empty). */
  private async open(deviceId: string, mirror: PersistentIndexedDb): Promise<wasm.OlmMachine> {
    // The crypto library opens IndexedDB through the global; each device has its own.
    (globalThis as { indexedDB?: unknown }).indexedDB = mirror.factory;
    const handle = await wasm.StoreHandle.openWithKey(mirror.prefix, this.deps.cipher.storeKey());
    const machine = await wasm.OlmMachine.initFromStore(new wasm.UserId(this.deps.userId), new wasm.DeviceId(deviceId), handle);
    this.mirror = mirror;
    this.deviceId = deviceId;
    return machine;
  }

  /**
   * The same device as before the restart, from its mirrored store; null (reported) when the
   * homeserver no longer has the device or the store cannot be read, so a new device is made.
   */
  private async reopen(deviceId: string, onHomeserver: string[]): Promise<wasm.OlmMachine | null> {
    const { userId, deviceStore, cipher } = this.deps;
    const mirror = new PersistentIndexedDb(userId, storeName(deviceId), deviceStore, cipher);
    let entries = 0;
    try {
      entries = await mirror.restore();
    } catch (error) {
      await mirror.close();
      // A database that is down for a moment is not a lost store: the start fails (reported) and
      // the next one tries again, keeping the device.
      if (!(error instanceof StoreUnreadableError)) throw error;
      await this.report("e2ee.store_unreadable", { deviceId, error: error.message.slice(0, 200) });
      return null;
    }
    if (entries === 0) {
      // Lost, or kept by an older Handover that stored only room keys: a new device takes over.
      await this.report("e2ee.device_store_missing", { deviceId, reason: "no-stored-device-store" });
      await mirror.close();
      return null;
    }
    if (!onHomeserver.includes(deviceId)) {
      await this.report("e2ee.device_missing", { deviceId, reason: "deleted-on-homeserver" });
      await mirror.close();
      return null;
    }
    const machine = await this.open(deviceId, mirror);
    this.reused = true;
    return machine;
  }

  private async newDevice(): Promise<wasm.OlmMachine> {
    const { userId, deviceStore, cipher, transport } = this.deps;
    const deviceId = `${DEVICE_PREFIX}${randomBytes(5).toString("hex").toUpperCase()}`;
    await transport.createDevice(deviceId, this.deps.displayName);
    const mirror = new PersistentIndexedDb(userId, storeName(deviceId), deviceStore, cipher);
    await mirror.reset();
    this.reused = false;
    return this.open(deviceId, mirror);
  }

  private async report(action: string, details: Record<string, string | number>): Promise<void> {
    this.deps.logger.error({ ...details, action }, "end-to-end encryption state problem");
    await this.deps.audit.record({ actor: this.deps.userId, action, target: this.deps.userId, details });
  }

  private async send(request: Parameters<typeof sendOutgoingRequest>[2]): Promise<void> {
    const machine = this.machine as wasm.OlmMachine;
    const response = await sendOutgoingRequest(this.deps.transport, this.deviceId as string, request);
    if ("id" in request && request.id && "type" in request) await machine.markRequestAsSent(request.id, request.type, response);
  }

  /** Sends what the machine wants sent (key uploads, queries, claims, to-device) until nothing is left. */
  private async flushOutgoing(): Promise<void> {
    const machine = this.machine;
    if (!machine) return;
    for (let round = 0; round < 10; round++) {
      const requests = await machine.outgoingRequests();
      if (requests.length === 0) return;
      // What made these requests (new one-time keys, advanced Olm ratchets) is stored before they
      // leave: a crash after sending must not bring back an older state than what others saw.
      await this.mirror?.flush();
      for (const request of requests) await this.send(request);
    }
  }

  /**
   * The crypto part of one appservice transaction. Room keys arriving in it, and every change to
   * the device's store (a new Olm session, a used one-time key), are in PostgreSQL before this
   * returns, so the transaction is acknowledged only once they are safe. The device's own
   * requests to the homeserver (key uploads, queries, claims) go out afterwards, never holding
   * up the acknowledgement: Synapse sends an appservice one transaction at a time, and a reply
   * that waited on the homeserver (or, through it, on another server) would stall them all.
   */
  receiveTransaction(body: unknown): Promise<void> {
    const deviceId = this.deviceId;
    if (!this.machine || !deviceId) return Promise.resolve();
    const extras: TransactionCrypto | null = transactionCrypto(body, this.deps.userId, deviceId);
    if (!extras) return Promise.resolve();
    this.lastCryptoAt = Date.now();
    this.deps.logger.debug({ toDevice: extras.toDevice.length, changed: extras.changed.length }, "crypto part of a transaction");
    const received = this.takeIn((m) =>
      m.receiveSyncChanges(
        JSON.stringify(extras.toDevice),
        new wasm.DeviceLists(
          extras.changed.map((id) => new wasm.UserId(id)),
          extras.left.map((id) => new wasm.UserId(id)),
        ),
        extras.oneTimeKeyCounts,
        extras.unusedFallbackKeys,
        untrusted(),
      ),
    );
    return received.then(() => this.kickOutgoing());
  }

  /**
   * Takes in crypto data (a transaction's part, or messages from the inbox), one change at a
   * time; room keys and every change to the device's store (a new Olm session, a used one-time
   * key) are in PostgreSQL before this resolves. A failure here answers 503 and Synapse resends.
   */
  private takeIn(apply: (machine: wasm.OlmMachine) => Promise<unknown>): Promise<void> {
    return this.stateChanges.run(async () => {
      const machine = this.machine;
      if (!machine) return;
      await apply(machine);
      await this.roomKeys.storeNew(machine);
      await this.mirror?.flush();
    });
  }

  /**
   * Reads the device's to-device inbox (DeviceInbox): messages that also came in a transaction are
   * recognised (the crypto store remembers each Olm message) and ignored. Returns how many were read.
   */
  async catchUp(): Promise<number> {
    const read = (await this.inbox?.read()) ?? 0;
    if (read > 0) this.kickOutgoing();
    return read;
  }

  /**
   * One pass sending the device's pending requests, after any pass already running: a pass not yet
   * started is shared by everyone asking meanwhile, so no request is left behind by a wake-up that
   * came too late, and a caller that needs its requests sent (encryptFor) waits for a pass that
   * began after it asked and sees it fail.
   */
  private sendPending(): Promise<void> {
    if (this.queuedPass) return this.queuedPass;
    const pass = this.outgoingPasses.run(async () => {
      this.queuedPass = null;
      await this.flushOutgoing();
      await this.mirror?.flush();
    });
    this.queuedPass = pass;
    return pass;
  }

  /** Sends the device's pending requests in the background. */
  private kickOutgoing(): void {
    this.sendPending().catch((error: unknown) => this.deps.logger.warn({ err: error }, "crypto requests not sent yet; retried with the next transaction"));
  }

  /** The machine, when the device works; otherwise a CONFLICT saying what cannot be done and why. */
  private readyMachine(refusal: string): wasm.OlmMachine {
    if (!this.machine || this.trouble) throw new HandoverError("CONFLICT", `${refusal}: ${this.trouble ?? "no encryption device"}`);
    return this.machine;
  }

  async decrypt(event: Parameters<RoomEventDecryptor["decrypt"]>[0]): Promise<DecryptOutcome> {
    return decryptRoomEvent(this.readyMachine("Encrypted messages cannot be read"), event);
  }

  /**
   * The bot's own message for an encrypted room, encrypted for every device of the room's members
   * (keys queried, Olm sessions claimed, the room key shared first); null for a room that is not
   * encrypted. Throws rather than let a message go out in the clear in an encrypted room.
   */
  async encryptFor(roomId: string, type: string, content: Record<string, unknown>): Promise<{ type: string; content: Record<string, unknown> } | null> {
    const encryption = await this.deps.transport.roomEncryption(roomId);
    if (!encryption) return null;
    const machine = this.readyMachine("Cannot send into an encrypted room");
    return this.sends.run(async () => {
      const userIds = await this.deps.transport.roomRecipients(roomId);
      const users = () => userIds.map((id) => new wasm.UserId(id));
      await machine.updateTrackedUsers(users());
      // The members' device keys, in a pass that starts after this asked.
      await this.sendPending();
      const claim = await machine.getMissingSessions(users());
      if (claim) await this.send(claim);
      const settings = new wasm.EncryptionSettings();
      if (typeof encryption.rotation_period_ms === "number") settings.rotationPeriod = BigInt(encryption.rotation_period_ms) * 1000n;
      if (typeof encryption.rotation_period_msgs === "number") settings.rotationPeriodMessages = BigInt(encryption.rotation_period_msgs);
      const shares = await machine.shareRoomKey(new wasm.RoomId(roomId), users(), settings);
      await this.flushMirror();
      for (const request of shares) await this.send(request);
      const encrypted = JSON.parse(await machine.encryptRoomEvent(new wasm.RoomId(roomId), type, JSON.stringify(content))) as Record<string, unknown>;
      // The outbound session's new message index is stored before the message can be sent.
      await this.flushMirror();
      return { type: "m.room.encrypted", content: encrypted };
    });
  }

  /** Mirrors the store now; throws once the device has stopped (nothing may then be sent). */
  private async flushMirror(): Promise<void> {
    if (!this.mirror || !this.machine) throw new HandoverError("CONFLICT", "the encryption device has stopped");
    await this.mirror.flush();
  }

  async forRoom(roomId: string): Promise<RoomEventDecryptor & { close(): void }> {
    return roomWorkingCopy(this.readyMachine("Encrypted messages cannot be read"), roomId);
  }

  /**
   * A live event as handlers should see it: decrypted when the device has (or, within a few
   * seconds, receives) its key, so `!handover` commands work in encrypted rooms; otherwise the
   * event as it came, which handlers ignore.
   */
  async readable<E extends Parameters<RoomEventDecryptor["decrypt"]>[0]>(event: E, waitMs = 3_000): Promise<E> {
    if (event.type !== "m.room.encrypted" || this.trouble || !this.machine) return event;
    const deadline = Date.now() + waitMs;
    let askedInbox = false;
    for (;;) {
      const outcome = await this.decrypt(event);
      if (outcome.ok) return { ...event, type: outcome.type, content: outcome.content };
      if (!askedInbox && outcome.reason === "missing-key" && Date.now() - (this.inbox?.lastReadAt ?? 0) > 1_000) {
        // The key may be waiting in the inbox (Synapse left it out of a transaction).
        askedInbox = true;
        await this.catchUp().catch((error: unknown) => this.deps.logger.warn({ err: error }, "device inbox not read"));
        continue;
      }
      if (outcome.reason !== "missing-key" || Date.now() > deadline) {
        this.deps.logger.warn(
          { eventId: event.event_id, roomId: event.room_id, reason: outcome.reason, detail: outcome.detail },
          "live encrypted event not decrypted",
        );
        return event;
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }

  /**
   * Called once Handover's transaction endpoint listens: the ping makes Synapse end any recovery
   * backoff now, since it drops to-device messages for an appservice it holds "down".
   */
  async listening(): Promise<void> {
    const ping = () =>
      this.deps.transport.ping(this.deps.appserviceId).catch((error: unknown) => this.deps.logger.warn({ err: error }, "appservice ping failed"));
    await ping();
    // Room keys sent while Handover was down are in the device's inbox, not in any transaction.
    await this.catchUp().catch((error: unknown) => this.deps.logger.warn({ err: error }, "device inbox not read"));
    // A transaction Synapse began while Handover was down can fail just after the first ping
    // (seen in tests: refused 20 ms after it); ping again so that recovery ends at once too.
    for (const delay of [1_000, 3_000]) setTimeout(() => void ping(), delay).unref();
    // Synapse's recovery backoff grows to 512 s, dropping room keys all along: while nothing with
    // crypto data has arrived for a while, keep ending it.
    let ticks = 0;
    this.watchdog = setInterval(() => {
      ticks++;
      if (ticks % 8 === 0 && Date.now() - this.lastCryptoAt > 15_000) void ping();
      if (Date.now() - (this.inbox?.lastReadAt ?? 0) >= (this.deps.inboxEveryMs ?? 30_000)) {
        this.catchUp().catch((error: unknown) => this.deps.logger.warn({ err: error }, "device inbox not read"));
      }
      // Store changes made outside a transaction (a decryption, a reply) are mirrored too.
      if (this.mirror?.pending) this.mirror.flush().catch((error: unknown) => this.deps.logger.warn({ err: error }, "crypto store not mirrored yet"));
    }, 2_000);
    this.watchdog.unref();
  }

  /** For the portal's overview. */
  status(): { working: boolean; problem: string | null; deviceId: string | null; reopened: boolean; roomKeys: number; inboxModule: boolean | null } {
    return {
      working: this.trouble === null,
      problem: this.trouble,
      deviceId: this.deviceId,
      reopened: this.reused,
      roomKeys: this.roomKeys.size,
      inboxModule: this.inbox?.module ?? null,
    };
  }

  async stop(): Promise<void> {
    if (this.watchdog) clearInterval(this.watchdog);
    await this.inbox?.idle();
    await this.stateChanges.idle();
    await this.sends.idle();
    await this.outgoingPasses.idle();
    await this.mirror?.flush().catch((error: unknown) => this.deps.logger.warn({ err: error }, "could not store the crypto store's last changes"));
    this.machine?.close();
    this.machine = null;
    await this.mirror?.close();
    this.mirror = null;
  }
}
