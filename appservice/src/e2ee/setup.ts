import type { Logger } from "pino";
import type { DataSource } from "typeorm";
import { parseDuration } from "../config/duration.js";
import type { HandoverConfig } from "../config/schema.js";
import type { AuditTrail } from "../domain/audit/audit-trail.js";
import { PostgresDeviceStore } from "../storage/e2ee-device-store.js";
import { PostgresCryptoStateStore } from "../storage/e2ee-state-store.js";
import { BotDevice } from "./bot-device.js";
import { CryptoTransport } from "./crypto-transport.js";
import { StateCipher } from "./state-cipher.js";

/** The bot's encryption device when `e2ee` is configured; null leaves encrypted rooms refused. */
export function createBotDevice(
  config: HandoverConfig,
  asToken: string,
  botUserId: string,
  db: DataSource,
  audit: AuditTrail,
  logger: Logger,
): BotDevice | null {
  if (!config.e2ee) return null;
  return new BotDevice({
    userId: botUserId,
    displayName: config.e2ee.deviceDisplayName,
    transport: new CryptoTransport(config.homeserver.url, asToken, botUserId),
    appserviceId: config.appservice.id,
    store: new PostgresCryptoStateStore(db),
    deviceStore: new PostgresDeviceStore(db),
    inboxEveryMs: parseDuration(config.e2ee.inboxCatchUpEvery) ?? 30_000,
    cipher: new StateCipher(config.e2ee.stateKey),
    audit,
    logger: logger.child({ component: "e2ee" }),
  });
}
