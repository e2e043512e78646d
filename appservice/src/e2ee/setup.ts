import type { Logger } from "pino";
import type { DataSource } from "typeorm";
import type { HandoverConfig } from "../config/schema.js";
import type { AuditTrail } from "../domain/audit/audit-trail.js";
import type { DecryptOutcome, RoomEventDecryptor } from "../domain/e2ee/crypto-state.js";
import { HandoverError } from "../domain/errors.js";
import { PostgresDeviceStore } from "../storage/e2ee-device-store.js";
import { PostgresCryptoStateStore } from "../storage/e2ee-state-store.js";
import type { BotDevice } from "./bot-device.js";
import { CryptoTransport } from "./crypto-transport.js";
import { StateCipher } from "./state-cipher.js";

type Status = ReturnType<BotDevice["status"]>;

/**
 * The bot's encryption device as the rest of Handover holds it. The device itself (the crypto
 * library's wasm and its IndexedDB) is loaded only when `start()` runs, so a Handover without an
 * `e2ee` section, and the core until then, do not pay its memory (bench ingest: about 5 MB).
 */
export class EncryptionDevice implements RoomEventDecryptor {
  private device: BotDevice | null = null;
  private startError: string | null = null;

  constructor(
    private readonly load: () => Promise<BotDevice>,
    private readonly roomEncryption: (roomId: string) => Promise<unknown> = async () => ({}),
  ) {}

  async start(): Promise<void> {
    try {
      this.device = await this.load();
    } catch (error) {
      this.startError = `the encryption library could not be loaded: ${(error as Error).message}`;
      return;
    }
    await this.device.start();
  }

  get currentDeviceId(): string | null {
    return this.device?.currentDeviceId ?? null;
  }

  problem(): string | null {
    if (this.startError) return this.startError;
    return this.device ? this.device.problem() : "the encryption device has not started";
  }

  status(): Status {
    const problem = this.problem();
    return this.device?.status() ?? { working: false, problem, deviceId: null, reopened: false, roomKeys: 0, inboxModule: null };
  }

  private started(): BotDevice {
    if (!this.device) throw new HandoverError("CONFLICT", `Encrypted messages cannot be read: ${this.problem()}`);
    return this.device;
  }

  async decrypt(event: Parameters<RoomEventDecryptor["decrypt"]>[0]): Promise<DecryptOutcome> {
    return this.started().decrypt(event);
  }

  async forRoom(roomId: string): Promise<RoomEventDecryptor & { close(): void }> {
    return this.started().forRoom(roomId);
  }

  async readable<E extends Parameters<RoomEventDecryptor["decrypt"]>[0]>(event: E): Promise<E> {
    return this.device ? this.device.readable(event) : event;
  }

  async encryptFor(roomId: string, type: string, content: Record<string, unknown>): Promise<{ type: string; content: Record<string, unknown> } | null> {
    if (this.device) return this.device.encryptFor(roomId, type, content);
    // Without the device, plain rooms still get their notices; an encrypted room's is refused
    // rather than sent in the clear.
    if ((await this.roomEncryption(roomId)) === null) return null;
    throw new HandoverError("CONFLICT", `Cannot send into an encrypted room yet: ${this.problem()}`);
  }

  receiveTransaction(body: unknown): Promise<void> {
    return this.device ? this.device.receiveTransaction(body) : Promise.resolve();
  }

  catchUp(): Promise<number> {
    return this.device ? this.device.catchUp() : Promise.resolve(0);
  }

  async listening(): Promise<void> {
    await this.device?.listening();
  }

  async stop(): Promise<void> {
    await this.device?.stop();
  }
}

/** The bot's encryption device when `e2ee` is configured; null leaves encrypted rooms refused. */
export function createBotDevice(
  config: HandoverConfig,
  asToken: string,
  botUserId: string,
  db: DataSource,
  audit: AuditTrail,
  logger: Logger,
): EncryptionDevice | null {
  const e2ee = config.e2ee;
  if (!e2ee) return null;
  const transport = new CryptoTransport(config.homeserver.url, asToken, botUserId);
  return new EncryptionDevice(
    async () => {
      const { BotDevice } = await import("./bot-device.js");
      return new BotDevice({
        userId: botUserId,
        displayName: e2ee.deviceDisplayName,
        transport,
        appserviceId: config.appservice.id,
        store: new PostgresCryptoStateStore(db),
        deviceStore: new PostgresDeviceStore(db),
        inboxEveryMs: e2ee.inboxCatchUpEvery,
        cipher: new StateCipher(e2ee.stateKey),
        audit,
        logger: logger.child({ component: "e2ee" }),
      });
    },
    (roomId) => transport.roomEncryption(roomId),
  );
}
