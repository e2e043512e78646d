import type { Logger } from "pino";
import type { CryptoStateStore } from "../domain/e2ee/crypto-state.js";
import type { CryptoTransport } from "./crypto-transport.js";

const PAGE = 200;
/** Without the Synapse module, ask again only this often (it may be added, or a proxy was wrong once). */
const MISSING_RETRY_MS = 600_000;

export interface DeviceInboxDeps {
  userId: string;
  deviceId: string;
  transport: Pick<CryptoTransport, "deviceInbox">;
  store: Pick<CryptoStateStore, "saveInboxPosition">;
  logger: Logger;
  /** Takes in to-device messages read from the inbox and stores what they changed. */
  take(events: Record<string, unknown>[]): Promise<void>;
}

/**
 * The bot device's to-device inbox on the homeserver, read through Handover's Synapse module
 * (deploy/synapse/modules/handover_device_inbox.py): room keys Synapse left out of transactions
 * while it held Handover "down" wait there. Reading goes on from where it last stopped; the
 * position is saved only after what was read is taken in, and reading from it acknowledges
 * (deletes) what came before. One read at a time.
 */
export class DeviceInbox {
  private reading: Promise<number> | null = null;
  private missingAt = 0;
  private answered = false;
  /** When the inbox was last asked (or tried). */
  lastReadAt = 0;

  constructor(
    private readonly deps: DeviceInboxDeps,
    private position: number,
  ) {}

  /** Whether the homeserver has the module; null until it has answered once. */
  get module(): boolean | null {
    return this.missingAt > 0 ? false : this.answered ? true : null;
  }

  /** Reads everything waiting; returns how many messages were read. */
  read(): Promise<number> {
    if (!this.reading) {
      this.reading = this.readAll().finally(() => {
        this.reading = null;
      });
    }
    return this.reading;
  }

  /** Waits for a read in progress, if any (without starting one). */
  async idle(): Promise<void> {
    await this.reading?.catch(() => undefined);
  }

  private async readAll(): Promise<number> {
    const { transport, store, userId, deviceId, logger } = this.deps;
    if (Date.now() - this.missingAt < MISSING_RETRY_MS) return 0;
    this.lastReadAt = Date.now();
    let read = 0;
    for (let page = 0; page < 50; page++) {
      const inbox = await transport.deviceInbox(deviceId, this.position, PAGE);
      if (!inbox) {
        this.missingAt = Date.now();
        logger.warn("the homeserver has no Handover device-inbox module: room keys Synapse drops while Handover is down are lost (docs/e2ee.md)");
        return read;
      }
      this.answered = true;
      this.missingAt = 0;
      if (inbox.events.length > 0) await this.deps.take(inbox.events);
      if (inbox.next > this.position) {
        this.position = inbox.next;
        await store.saveInboxPosition(userId, deviceId, inbox.next);
      }
      read += inbox.events.length;
      if (inbox.events.length < PAGE) break;
    }
    if (read > 0) logger.info({ read }, "to-device messages read from the device inbox");
    return read;
  }
}
