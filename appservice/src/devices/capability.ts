import type { Capability, CapabilityFactory, Platform } from "../capability.js";
import { devicesSchema } from "../config/devices.js";
import { parseDuration } from "../config/duration.js";
import { PosturePass } from "../domain/devices/posture-pass.js";
import { postureReport } from "../domain/devices/posture-report.js";
import { SessionsService } from "../domain/devices/sessions-service.js";
import { HandoverError } from "../domain/errors.js";
import { BotCrossSigningReader } from "../matrix/cross-signing-reader.js";
import { PostgresDirectoryStanding, PostgresPostureSnapshotStore, PostgresStaleSweepStore } from "../storage/devices-store.js";
import { SynapseDeviceAdmin } from "../synapse/device-admin.js";
import { devicesHandlers } from "./handlers.js";

/**
 * Devices and sessions (issue 14). Always on: reading needs nothing configured, and the
 * `devices` section only tunes ages and limits.
 */
export const POSTURE_JOB = "devices-posture";
const HISTORY_DAYS = 400;

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
  const crossSigning = new BotCrossSigningReader(platform.bot);
  const directory = new PostgresDirectoryStanding(platform.db);
  const staleAfterMs = parseDuration(config.staleAfter) as number;
  const snapshots = new PostgresPostureSnapshotStore(platform.db);
  const posture = new PosturePass({
    accounts: synapse,
    admin: synapse,
    crossSigning,
    directory,
    snapshots,
    clock: platform.clock,
    settings: { staleAfterMs, homeserverIncludesContent: config.homeserverIncludesContent, concurrency: config.adminConcurrency, excluded: protect },
  });
  const report = async () => postureReport(await snapshots.recent(HISTORY_DAYS), config.posture.thresholds);
  const sessions = new SessionsService({
    admin: synapse,
    accounts: synapse,
    crossSigning,
    directory,
    sweeps: new PostgresStaleSweepStore(platform.db),
    audit: platform.audit,
    clock: platform.clock,
    settings: {
      staleAfterMs,
      homeserverIncludesContent: config.homeserverIncludesContent,
      approvalAbove: config.staleSweep.approvalAbove,
      concurrency: config.adminConcurrency,
      protectedAccounts: protect,
    },
  });
  return {
    name: "devices",
    handlers: devicesHandlers({
      sessions,
      staleAfter: config.staleAfter,
      posture: report,
      takePosture: async () => {
        if (!(await platform.jobs.runNow(POSTURE_JOB)))
          throw new HandoverError("CONFLICT", "A posture pass is running already; try again when it has finished");
        return report();
      },
    }),
    async start(): Promise<void> {
      platform.jobs.register({ name: POSTURE_JOB, intervalMs: parseDuration(config.posture.interval) as number }, async () => {
        const snapshot = await posture.run();
        platform.logger.info({ people: snapshot.counts.people, adminCalls: snapshot.adminCalls }, "devices: posture snapshot taken");
      });
    },
  };
};
