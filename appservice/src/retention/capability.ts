import type { Capability, CapabilityFactory, Platform } from "../capability.js";
import { type RetentionConfig, retentionSchema } from "../config/retention.js";
import { type Clock, systemClock } from "../domain/clock.js";
import { HandoverError } from "../domain/errors.js";
import type { MatrixEvent } from "../domain/matrix-event.js";
import { HoldAndPolicyGate } from "../domain/retention/deletion-gate.js";
import { mediaReferencesOf } from "../domain/retention/media.js";
import type { DefaultPolicies, PolicyRules } from "../domain/retention/policy.js";
import { RetentionPolicyService } from "../domain/retention/policy-service.js";
import { PurgeExecutor } from "../domain/retention/purge-executor.js";
import { DEFAULT_PACER_SETTINGS, PurgePacer } from "../domain/retention/purge-pacer.js";
import { RetentionStatePublication } from "../domain/retention/state-publication.js";
import { RetentionPlanner, RetentionSweep, SWEEP_ACTOR, type SweepOutcome } from "../domain/retention/sweep.js";
import { PostgresOperationalCounts } from "../storage/operational-counts.js";
import { PostgresRetentionFacts } from "../storage/retention-facts-store.js";
import { PostgresMediaReferences } from "../storage/retention-media-store.js";
import { PostgresHoldStore, PostgresPolicyStore, PostgresRoomDeletionLock } from "../storage/retention-policy-store.js";
import { PostgresPurgeLedger } from "../storage/retention-purge-store.js";
import { SynapseRetentionAdapter } from "../synapse/retention-history.js";
import { retentionHandlers } from "./handlers.js";
import { MessageIndexBuffer } from "./message-index-buffer.js";
import { registerPaceMetrics, registerRetentionMetrics } from "./metrics.js";

export const SWEEP_JOB = "retention-sweep";
/** The account data the purge pacer's probe overwrites (Handover's admin account's own). */
export const PACE_PROBE_TYPE = "org.handover.retention.pace";

/** The dry run over a database, for the CLI (`handover retention plan`) and the bench. */
export function retentionPlanner(db: Platform["db"], config: RetentionConfig | undefined, clock: Clock = systemClock): RetentionPlanner {
  const settingsOf = config ?? retentionSchema.parse({});
  return new RetentionPlanner({
    facts: new PostgresRetentionFacts(db),
    policies: new PostgresPolicyStore(db),
    clock,
    defaults: { clinical: rules(settingsOf.defaults.clinical), operational: rules(settingsOf.defaults.operational) },
    settings: { warningGranularityMs: settingsOf.warningGranularity },
  });
}

function rules(config: RetentionConfig["defaults"]["clinical"]): PolicyRules {
  return {
    maxAgeMs: config.maxAge,
    deleteAfterFilingMs: config.deleteAfterFiling,
    allowUnfiledDeletion: config.allowUnfiledDeletion,
    minAgeMs: config.minAge,
    warnBeforeMs: config.warnBefore,
  };
}

/**
 * Retention (issue 3). Without a `retention` section nothing is swept, indexed or published;
 * policies can still be prepared and previewed in the portal.
 */
export const retentionCapability: CapabilityFactory = (platform: Platform): Capability => {
  const enabled = platform.config.retention !== undefined;
  const config = platform.config.retention ?? retentionSchema.parse({});
  const { db, clock, audit, bot, logger } = platform;
  const defaults: DefaultPolicies = { clinical: rules(config.defaults.clinical), operational: rules(config.defaults.operational) };
  const settings = {
    warningGranularityMs: config.warningGranularity,
    maxPurgesPerSweep: config.maxPurgesPerSweep,
    purgeConcurrency: config.purgeConcurrency,
  };
  let probeTimed: (seconds: number) => void = () => undefined;
  const pacer = new PurgePacer(
    { ...DEFAULT_PACER_SETTINGS, maxConcurrency: config.purgeConcurrency, probeIntervalMs: config.purgeProbeInterval },
    clock,
    (wait) => new Promise((resolve) => setTimeout(resolve, wait)),
    async () => {
      const asked = performance.now();
      await platform.admin.touchAccountData(PACE_PROBE_TYPE);
      probeTimed((performance.now() - asked) / 1000);
    },
  );
  const facts = new PostgresRetentionFacts(db);
  const policies = new PostgresPolicyStore(db);
  const holds = new PostgresHoldStore(db);
  const references = new PostgresMediaReferences(db);
  const ledger = new PostgresPurgeLedger(db);
  if (enabled) {
    registerRetentionMetrics(platform.metrics.registry, new PostgresOperationalCounts(db));
    probeTimed = registerPaceMetrics(platform.metrics.registry, pacer);
  }
  const synapse = new SynapseRetentionAdapter(platform.admin, platform.config.homeserver.serverName, {
    pageSize: config.historyPageSize,
    pace: (read) => pacer.paced(read),
  });
  const notifier = { postNotice: (roomId: string, text: string, key: string) => bot.postNotice(roomId, text, key) };
  const index = new MessageIndexBuffer(facts, (error) => logger.error({ err: error }, "retention: could not index messages"));
  const executor = new PurgeExecutor({
    ledger,
    history: synapse,
    purger: synapse,
    media: synapse,
    references,
    gate: new HoldAndPolicyGate({ lock: new PostgresRoomDeletionLock(db), holds, facts, policies, clock, defaults, settings }),
    notifier,
    index: {
      // Unbuffered: the deletion gate reads the facts right after.
      recordMessages: (rows) => facts.recordMessages(rows),
      forgetUpTo: async (roomId, cutoff) => {
        await index.flush();
        await facts.forgetUpTo(roomId, cutoff);
      },
      forgetEvents: async (roomId, eventIds) => {
        await index.flush();
        await facts.forgetEvents(roomId, eventIds);
      },
      linkSpace: (roomId, spaceId, linked) => facts.linkSpace(roomId, spaceId, linked),
    },
    captured: facts,
    audit,
    clock,
    botUserId: platform.botUserId,
    pollIntervalMs: config.purgePollInterval,
    pollTimeoutMs: config.purgeTimeout,
    firstPollMs: config.purgeFirstPoll,
    sliceEvents: config.purgeSliceEvents,
    pacer,
  });
  const publication = new RetentionStatePublication({
    publisher: bot,
    ledger: facts,
    clock,
    perSweep: config.publishRoomRetention ? config.publishPerSweep : 0,
    onError: (roomId, error) => logger.warn({ roomId, err: error }, "retention: could not publish m.room.retention"),
  });
  const sweep = new RetentionSweep({
    facts,
    policies,
    ledger,
    warnings: facts,
    notifier,
    executor,
    publication,
    audit,
    clock,
    defaults,
    settings,
    onPurgeFailed: (record, error) => {
      platform.metrics.retentionPurgeFailures.inc();
      logger.warn({ roomId: record.roomId, deletionId: record.id, err: error }, "retention: purge failed; the other rooms go on");
    },
  });
  const policyService = new RetentionPolicyService({
    policies,
    holds,
    facts,
    rooms: platform.rooms,
    audit,
    clock,
    defaults,
    settings,
  });

  let lastSweepAt: Date | null = null;
  const runSweep = async (actor: string): Promise<SweepOutcome> => {
    await index.flush();
    const outcome = await sweep.run(actor);
    lastSweepAt = clock.now();
    if (outcome.deletions.length + outcome.warned > 0) {
      logger.info({ deleted: outcome.deletions.length, warned: outcome.warned, waiting: outcome.waiting }, "retention sweep");
    }
    return outcome;
  };

  return {
    name: "retention",
    async onEvent(event: MatrixEvent): Promise<void> {
      if (!enabled) return;
      // The readable event: in encrypted rooms the media URIs are only visible decrypted, here.
      const mediaReferences = mediaReferencesOf(event);
      if (mediaReferences.length > 0) await references.record(event.room_id, event.event_id, mediaReferences);
      if (event.state_key === undefined) {
        if (event.sender !== platform.botUserId) index.add(event.room_id, event.event_id, new Date(event.origin_server_ts));
        return;
      }
      const linked = Array.isArray(event.content.via) && event.content.via.length > 0;
      if (event.type === "m.space.parent" && event.state_key.startsWith("!")) await facts.linkSpace(event.room_id, event.state_key, linked);
      if (event.type === "m.space.child" && event.state_key.startsWith("!")) await facts.linkSpace(event.state_key, event.room_id, linked);
    },
    handlers: retentionHandlers({
      policies: policyService,
      ledger,
      plan: async (roomIds) => {
        await index.flush();
        return sweep.plan(roomIds);
      },
      now: () => clock.now(),
      sweepAs: async (actor) => {
        if (!enabled) throw new HandoverError("CONFLICT", "Retention is not turned on for this trust: add a `retention` section to Handover's configuration");
        // Under the sweep job's lock, so it never runs beside a scheduled sweep in any process.
        const run = await platform.jobs.runExclusive(SWEEP_JOB, () => runSweep(actor));
        return run.ran ? run.value : null;
      },
    }),
    async start(): Promise<void> {
      if (!enabled) return;
      index.start();
      platform.jobs.register({ name: SWEEP_JOB, intervalMs: config.sweepInterval, runAtStart: true }, async () => {
        await runSweep(SWEEP_ACTOR);
      });
    },
    // Before the pump deletes handled events from the inbox: a crash must not lose index rows.
    flushHandled: () => index.flush(),
    async stop(): Promise<void> {
      await index.stop();
    },
    async readiness(): Promise<Record<string, boolean>> {
      if (!enabled) return {};
      // Not ready when no sweep has finished in five intervals (in this or, via the lock, another process).
      const stale = lastSweepAt !== null && clock.now().getTime() - lastSweepAt.getTime() > 5 * config.sweepInterval;
      return { retention: !stale };
    },
  };
};
