import { randomInt } from "node:crypto";
import type { Capability, CapabilityFactory, Platform } from "../capability.js";
import { devicesSchema } from "../config/devices.js";
import { formatDuration } from "../config/duration.js";
import { PosturePass } from "../domain/devices/posture-pass.js";
import { postureReport } from "../domain/devices/posture-report.js";
import { SessionsService } from "../domain/devices/sessions-service.js";
import { SpotChecks } from "../domain/devices/spot-checks.js";
import { HandoverError } from "../domain/errors.js";
import { BotCrossSigningReader } from "../matrix/cross-signing-reader.js";
import { PostgresDeviceWatch, PostgresPushProbeRecord } from "../storage/device-watch-store.js";
import { PostgresDirectoryStanding, PostgresPostureSnapshotStore, PostgresStaleSweepStore } from "../storage/devices-store.js";
import { PostgresSpotCheckStore } from "../storage/spot-check-store.js";
import { SYNAPSE_LAST_SEEN_SETTLES_MS, SynapseDeviceAdmin } from "../synapse/device-admin.js";
import { directoryGroupsWhenSynced } from "./directory-groups.js";
import { devicesHandlers } from "./handlers.js";
import { HomeserverPushContentWatch } from "./push-content.js";
import { HomeserverPushProbe } from "./push-probe.js";
import { BotSessionNotices } from "./session-notices.js";
import { PdfKitSpotCheckRenderer } from "./spot-check-pdf.js";

/**
 * Devices and sessions (issue 14). Always on: reading needs nothing configured, and the
 * `devices` section only tunes ages and limits.
 */
export const POSTURE_JOB = "devices-posture";
export const SPOT_CHECK_JOB = "devices-spot-check-schedule";
export const PUSH_PROBE_JOB = "devices-push-probe";
const HOUR_MS = 3_600_000;

/** k distinct indices below n, uniformly (a partial Fisher-Yates shuffle with crypto randomness). */
function pickAtRandom(n: number, k: number): number[] {
  const indices = Array.from({ length: n }, (_, index) => index);
  for (let i = 0; i < k; i++) {
    const j = i + randomInt(n - i);
    [indices[i], indices[j]] = [indices[j] as number, indices[i] as number];
  }
  return indices.slice(0, k);
}
const HISTORY_DAYS = 400;

export const devicesCapability: CapabilityFactory = (platform: Platform): Capability => {
  const config = platform.config.devices ?? devicesSchema.parse({});
  const synapse = new SynapseDeviceAdmin(platform.admin, platform.config.homeserver.serverName);
  const probe = new HomeserverPushProbe({
    homeserverUrl: platform.config.homeserver.url,
    serverName: platform.config.homeserver.serverName,
    admin: platform.admin,
    bot: platform.bot,
    timeoutMs: config.pushProbe.timeout,
  });
  const pushContent = new HomeserverPushContentWatch(
    config.pushProbe.enabled ? probe : null,
    new PostgresPushProbeRecord(platform.db),
    config.homeserverIncludesContent,
    platform.clock,
    platform.logger,
  );
  // Handover's own admin account and the bot keep their sessions and are not counted: ending
  // them would stop Handover.
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
  // The push probe's account is left out of counts and samples only while it is Handover's: an
  // account of that name that is someone's real one (the probe leaves it alone) is counted and
  // sampled like anyone's. Sign-outs never spare it: the probe's own sessions last one probe.
  const excluded = async (): Promise<ReadonlySet<string>> => {
    const own = await protect();
    return config.pushProbe.enabled && (await probe.accountIsHandovers()) ? new Set([...own, probe.probeUserId]) : own;
  };
  const crossSigning = new BotCrossSigningReader(platform.bot);
  const groups = directoryGroupsWhenSynced(() => platform.directoryGroups());
  const directory = new PostgresDirectoryStanding(platform.db);
  const staleAfterMs = config.staleAfter;
  const snapshots = new PostgresPostureSnapshotStore(platform.db);
  const watch = new PostgresDeviceWatch(platform.db);
  const posture = new PosturePass({
    accounts: synapse,
    admin: synapse,
    crossSigning,
    directory,
    snapshots,
    watch,
    sightings: watch,
    clock: platform.clock,
    settings: {
      staleAfterMs,
      get homeserverIncludesContent() {
        return pushContent.includesContent;
      },
      concurrency: config.adminConcurrency,
      excluded,
      fullEveryMs: config.posture.fullEvery,
      lastSeenSettlesMs: SYNAPSE_LAST_SEEN_SETTLES_MS,
    },
  });
  const report = async () => postureReport(await snapshots.recent(HISTORY_DAYS), config.posture.thresholds, await pushContent.refresh());
  const sessions = new SessionsService({
    admin: synapse,
    accounts: synapse,
    crossSigning,
    directory,
    groups,
    sweeps: new PostgresStaleSweepStore(platform.db),
    watch,
    notices: new BotSessionNotices(platform.bot, platform.db, platform.logger, {
      ...config.sessionNotices,
      trustName: platform.config.federation?.organisation.name ?? "Your trust",
    }),
    audit: platform.audit,
    clock: platform.clock,
    settings: {
      staleAfterMs,
      get homeserverIncludesContent() {
        return pushContent.includesContent;
      },
      approvalAbove: config.staleSweep.approvalAbove,
      concurrency: config.adminConcurrency,
      protectedAccounts: protect,
    },
  });
  const spotChecks = new SpotChecks({
    accounts: synapse,
    posture: async (userId) => {
      await pushContent.refresh();
      return sessions.person(userId);
    },
    groups,
    store: new PostgresSpotCheckStore(platform.db),
    pdf: new PdfKitSpotCheckRenderer(),
    audit: platform.audit,
    clock: platform.clock,
    pick: pickAtRandom,
    excluded,
  });
  return {
    name: "devices",
    handlers: devicesHandlers({
      sessions,
      spotChecks,
      staleAfter: formatDuration(config.staleAfter),
      homeserverPush: () => pushContent.refresh(),
      posture: report,
      takePosture: async () => {
        if (!(await platform.jobs.runNow(POSTURE_JOB)))
          throw new HandoverError("CONFLICT", "A posture pass is running already; try again when it has finished");
        return report();
      },
    }),
    async start(): Promise<void> {
      if (config.pushProbe.enabled) {
        platform.jobs.register({ name: PUSH_PROBE_JOB, intervalMs: config.pushProbe.every, runAtStart: true }, async () => void (await pushContent.check()));
      }
      platform.jobs.register({ name: POSTURE_JOB, intervalMs: config.posture.interval }, async () => {
        await pushContent.refresh();
        const snapshot = await posture.run();
        platform.logger.info(
          { kind: snapshot.kind, people: snapshot.counts.people, peopleRead: snapshot.peopleRead, adminCalls: snapshot.adminCalls },
          "devices: posture snapshot taken",
        );
      });
      // Ticks hourly and starts one when the last scheduled check is older than `every`: a
      // 30-day setInterval would overflow Node's timer (about 24.8 days) and fire at once.
      const everyMs = config.spotChecks.every;
      platform.jobs.register({ name: SPOT_CHECK_JOB, intervalMs: Math.min(HOUR_MS, everyMs) }, async () => {
        await spotChecks.runSchedule(everyMs, config.spotChecks.people, config.spotChecks.groups);
      });
    },
  };
};
