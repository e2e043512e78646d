import * as wasm from "@matrix-org/matrix-sdk-crypto-wasm";

/**
 * A clinician's encrypting device and a receiving device, both real OlmMachines, talking through
 * an in-process stand-in for the homeserver's key endpoints (upload, query, claim, to-device).
 * For unit tests and the e2ee bench: the integration test uses real Synapse and matrix-js-sdk.
 */
export class OlmPair {
  private readonly deviceKeys = new Map<string, unknown>();
  private readonly oneTimeKeys = new Map<string, Record<string, unknown>>();
  /** To-device events waiting for the receiver, as the homeserver would deliver them. */
  readonly inbox: Record<string, unknown>[] = [];

  private constructor(
    readonly sender: wasm.OlmMachine,
    readonly receiver: wasm.OlmMachine,
  ) {}

  /** `receiver` (default: a new in-memory machine for receiverId, device BOTDEV) receives the keys. */
  static async create(senderId = "@alice:trust-a.test", receiverId = "@handover:trust-a.test", receiverMachine?: wasm.OlmMachine): Promise<OlmPair> {
    await wasm.initAsync();
    const sender = await wasm.OlmMachine.initialize(new wasm.UserId(senderId), new wasm.DeviceId("ALICEDEV"));
    const receiver = receiverMachine ?? (await wasm.OlmMachine.initialize(new wasm.UserId(receiverId), new wasm.DeviceId("BOTDEV")));
    const pair = new OlmPair(sender, receiver);
    await pair.flush(receiver);
    await pair.flush(sender);
    return pair;
  }

  private key(machine: wasm.OlmMachine): string {
    return `${machine.userId.toString()}|${machine.deviceId.toString()}`;
  }

  /** Answers a machine's outgoing requests the way Synapse would. */
  async flush(machine: wasm.OlmMachine): Promise<void> {
    for (let round = 0; round < 5; round++) {
      const requests = await machine.outgoingRequests();
      if (requests.length === 0) return;
      for (const request of requests) await machine.markRequestAsSent(request.id as string, request.type, JSON.stringify(this.answer(machine, request)));
    }
  }

  private answer(machine: wasm.OlmMachine, request: wasm.OutgoingRequest): unknown {
    const body = JSON.parse(request.body) as Record<string, Record<string, unknown>>;
    if (request instanceof wasm.KeysUploadRequest) {
      if (body.device_keys) this.deviceKeys.set(this.key(machine), body.device_keys);
      const mine = this.oneTimeKeys.get(this.key(machine)) ?? {};
      Object.assign(mine, body.one_time_keys ?? {});
      this.oneTimeKeys.set(this.key(machine), mine);
      return { one_time_key_counts: { signed_curve25519: Object.keys(mine).length } };
    }
    if (request instanceof wasm.KeysQueryRequest) {
      const deviceKeys: Record<string, Record<string, unknown>> = {};
      for (const userId of Object.keys(body.device_keys ?? {})) {
        deviceKeys[userId] = {};
        for (const [key, value] of this.deviceKeys) {
          const [owner, deviceId] = key.split("|") as [string, string];
          if (owner === userId) deviceKeys[userId][deviceId] = value;
        }
      }
      return { device_keys: deviceKeys, failures: {} };
    }
    if (request instanceof wasm.KeysClaimRequest) {
      const claimed: Record<string, Record<string, Record<string, unknown>>> = {};
      for (const [userId, devices] of Object.entries(body.one_time_keys ?? {})) {
        for (const deviceId of Object.keys(devices as Record<string, unknown>)) {
          const keys = this.oneTimeKeys.get(`${userId}|${deviceId}`) ?? {};
          const first = Object.keys(keys)[0];
          if (!first) continue;
          claimed[userId] = { ...(claimed[userId] ?? {}), [deviceId]: { [first]: keys[first] } };
          delete keys[first];
        }
      }
      return { one_time_keys: claimed, failures: {} };
    }
    if (request instanceof wasm.ToDeviceRequest) {
      const messages = (body.messages ?? {}) as Record<string, Record<string, unknown>>;
      for (const devices of Object.values(messages)) {
        for (const content of Object.values(devices)) this.inbox.push({ sender: machine.userId.toString(), type: request.event_type, content });
      }
      return {};
    }
    return {};
  }

  /** Shares the sender's room key for `roomId` with the receiver and delivers it. */
  async shareRoomKey(roomId: string): Promise<void> {
    // wasm-bindgen moves objects passed in arrays: each call gets its own UserId.
    const receiverId = () => new wasm.UserId(this.receiver.userId.toString());
    await this.sender.updateTrackedUsers([receiverId()]);
    await this.flush(this.sender);
    const claim = await this.sender.getMissingSessions([receiverId()]);
    if (claim) await this.sender.markRequestAsSent(claim.id, claim.type, JSON.stringify(this.answer(this.sender, claim)));
    const settings = new wasm.EncryptionSettings();
    settings.sharingStrategy = wasm.CollectStrategy.allDevices();
    for (const request of await this.sender.shareRoomKey(new wasm.RoomId(roomId), [receiverId()], settings)) {
      await this.sender.markRequestAsSent(request.id, request.type, JSON.stringify(this.answer(this.sender, request)));
    }
  }

  /** The to-device events queued for the receiver, taken out of the inbox. */
  takeToDevice(): Record<string, unknown>[] {
    return this.inbox.splice(0);
  }

  async deliverToReceiver(): Promise<void> {
    const events = this.takeToDevice();
    await this.receiver.receiveSyncChanges(JSON.stringify(events), new wasm.DeviceLists(), new Map(), new Set());
  }

  /** An `m.room.encrypted` event as the room's timeline would hold it. */
  async encrypt(roomId: string, eventId: string, content: Record<string, unknown>, ts = Date.now()) {
    const encrypted = JSON.parse(await this.sender.encryptRoomEvent(new wasm.RoomId(roomId), "m.room.message", JSON.stringify(content))) as Record<
      string,
      unknown
    >;
    return { event_id: eventId, room_id: roomId, sender: this.sender.userId.toString(), type: "m.room.encrypted", origin_server_ts: ts, content: encrypted };
  }
}
