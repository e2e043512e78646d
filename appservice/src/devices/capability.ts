import type { Capability, CapabilityFactory, Platform } from "../capability.js";
import { devicesSchema } from "../config/devices.js";
import { parseDuration } from "../config/duration.js";
import { SessionsService } from "../domain/devices/sessions-service.js";
import { BotCrossSigningReader } from "../matrix/cross-signing-reader.js";
import { PostgresDirectoryStanding, PostgresStaleSweepStore } from "../storage/devices-store.js";
import { SynapseDeviceAdmin } from "../synapse/device-admin.js";
import { devicesHandlers } from "./handlers.js";

/**
 * Devices and sessions (issue 14). Always on: reading needs nothing configured, and the
 * `devices` section only tunes ages and limits.
 */
export const devicesCapability: CapabilityFactory = (platform: Platform): Capability => {
  const config = platform.config.devices ?? devicesSchema.parse({});
  const synapse = new SynapseDeviceAdmin(platform.admin);
  // Handover's own admin account and the bot keep their sessions: ending them would stop Handover.
  let protectedAccounts: Promise<ReadonlySet<string>> | null = null;
  const protect = () => {
    protectedAccounts ??= platform.admin.whoami().then(
      (adminUserId) => new Set([adminUserId, platform.botUserId]),
      (error: unknown) => {
        protectedAccounts = null;
        throw error;
      },
    );
    return protectedAccounts;
  };
  const sessions = new SessionsService({
    admin: synapse,
    accounts: synapse,
    crossSigning: new BotCrossSigningReader(platform.bot),
    directory: new PostgresDirectoryStanding(platform.db),
    sweeps: new PostgresStaleSweepStore(platform.db),
    audit: platform.audit,
    clock: platform.clock,
    settings: {
      staleAfterMs: parseDuration(config.staleAfter) as number,
      homeserverIncludesContent: config.homeserverIncludesContent,
      approvalAbove: config.staleSweep.approvalAbove,
      concurrency: config.adminConcurrency,
      protectedAccounts: protect,
    },
  });
  return { name: "devices", handlers: devicesHandlers(sessions, config.staleAfter) };
};
