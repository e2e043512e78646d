import express from "express";
import type { Capability, CapabilityFactory, Platform } from "../capability.js";
import { directorySchema } from "../config/directory.js";
import { formatDuration } from "../config/duration.js";
import { ActionExecutor } from "../domain/directory/executor.js";
import { IdentityTemplate } from "../domain/directory/identity.js";
import type { DirectorySource } from "../domain/directory/model.js";
import { DirectorySync } from "../domain/directory/reconciler.js";
import { HandoverError } from "../domain/errors.js";
import { SerialQueue } from "../domain/serial-queue.js";
import { PostgresCsvImportStore } from "../storage/directory-csv-store.js";
import { PostgresDirectoryIdentityStore } from "../storage/directory-identity-store.js";
import { PostgresLdapSnapshotStore } from "../storage/directory-ldap-store.js";
import { PostgresPushedDirectoryStore } from "../storage/directory-pushed-store.js";
import { PostgresDirectoryRuleStore } from "../storage/directory-rule-store.js";
import { PostgresDirectoryRunStore } from "../storage/directory-run-store.js";
import { PostgresOperationalCounts } from "../storage/operational-counts.js";
import { CsvImporter } from "./csv-import.js";
import { CsvSources } from "./csv-sources.js";
import { DirectoryGroupLookup } from "./group-memberships.js";
import { directoryHandlers } from "./handlers.js";
import { LdapDirectorySource } from "./ldap-source.js";
import { registerDirectoryMetrics } from "./metrics.js";
import { PushCoalescer } from "./push-coalescer.js";
import { PushedDirectorySource } from "./pushed-source.js";
import { scimRouter } from "./scim-router.js";
import { SynapseMembership } from "./synapse-membership.js";

export const DIRECTORY_JOB = "directory-sync";

/** What directory sync needs from the core; the CLI builds it without starting Handover. */
export type DirectoryPlatform = Pick<Platform, "config" | "db" | "admin" | "bot" | "botUserId" | "audit" | "clock">;

/** Builds directory sync's parts from the config (no I/O). */
export function buildDirectorySync(platform: DirectoryPlatform) {
  const config = platform.config.directory;
  const db = platform.db;
  const rules = new PostgresDirectoryRuleStore(db);
  const runs = new PostgresDirectoryRunStore(db);
  const pushed = new PostgresPushedDirectoryStore(db);
  const imports = new PostgresCsvImportStore(db);
  const sources: DirectorySource[] = [
    ...(config?.ldap ?? []).map((source) => new LdapDirectorySource(source, new PostgresLdapSnapshotStore(db), () => platform.clock.now())),
    ...(config?.scim ? [new PushedDirectorySource(config.scim.name, "scim", pushed)] : []),
    ...(config?.csv ?? []).map((source) => new PushedDirectorySource(source.name, "csv", pushed)),
  ];
  const importers = (config?.csv ?? []).map((source) => new CsvImporter(source, { store: pushed, imports, audit: platform.audit, clock: platform.clock }));
  // The admin account may be brought into managed rooms for forced joins: never remove it.
  const exempt = new Set(config?.exempt ?? []);
  const membership = new SynapseMembership(platform.admin, platform.bot, platform.botUserId);
  const sync =
    config && sources.length > 0
      ? new DirectorySync({
          sources,
          rules,
          identity: new IdentityTemplate(config.identityTemplate, platform.config.homeserver.serverName),
          reader: membership,
          executor: new ActionExecutor(membership, membership, platform.clock, {
            writesPerSecond: config.writesPerSecond,
            maxInFlight: config.writeConcurrency,
            attempts: 4,
            wait: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
          }),
          runs,
          identities: new PostgresDirectoryIdentityStore(db),
          audit: platform.audit,
          clock: platform.clock,
          guard: {
            maxRemovalShare: config.maxRemovalShare,
            maxRemovals: config.maxRemovals,
            windowMs: config.removalWindow,
          },
          plan: {
            serverName: platform.config.homeserver.serverName,
            botUserId: platform.botUserId,
            exempt,
            leaverPolicy: {
              action: config.leavers.action,
              endSessions: config.leavers.endSessions,
              graceMs: config.leavers.grace,
            },
          },
        })
      : null;
  return { config, rules, runs, pushed, imports, importers, sources, sync, exempt };
}

/**
 * Directory sync (issue 4): room membership of managed rooms follows the staff directory.
 * Runs on a schedule under the job scheduler's lock, soon after a SCIM push, and by hand.
 */
export const directoryCapability: CapabilityFactory = (platform): Capability => {
  const { config, rules, runs, pushed, imports, importers, sources, sync, exempt } = buildDirectorySync(platform);
  if (sync) registerDirectoryMetrics(platform.metrics.registry, new PostgresOperationalCounts(platform.db));
  // Work asked for here (a manual run, an approval, an import) waits its turn in this process,
  // then for the job's lock, which keeps it from running beside a run in any process.
  const asked = new SerialQueue();
  const groupLookup = sync
    ? new DirectoryGroupLookup(
        () => sync.desired(),
        () => platform.clock.now().getTime(),
        platform.config.access.accountRecheck,
      )
    : null;
  const underLock = async <T>(work: () => Promise<T>): Promise<T> => {
    const deadline = Date.now() + 120_000;
    for (;;) {
      const run = await platform.jobs.runExclusive(DIRECTORY_JOB, async () => {
        // Holding the lock means no other process is applying: an `applying` run was cut short.
        await sync?.recoverInterrupted();
        return work();
      });
      if (run.ran) return run.value;
      // Another process (or this one's scheduled run) holds the lock: wait for our turn.
      if (Date.now() > deadline) throw new HandoverError("CONFLICT", "A directory sync run is in progress in another Handover process; try again shortly");
      await new Promise((wake) => setTimeout(wake, 500));
    }
  };
  // A run or an import may have changed who is in which group.
  const exclusive = <T>(work: () => Promise<T>): Promise<T> => asked.run(() => underLock(work)).finally(() => groupLookup?.invalidate());

  const csv = sync
    ? new CsvSources({
        importers,
        sync,
        exclusive,
        logger: platform.logger,
        lastImport: async (source) => {
          const last = await imports.last(source);
          return last ? { at: last.importedAt, via: last.via, people: last.people, groups: last.groups } : null;
        },
      })
    : null;

  const scim = config?.scim;
  // The limits are shown even without a `directory` section: the schema's defaults then.
  const guard = config ?? directorySchema.parse({});
  const pushes =
    sync && scim
      ? new PushCoalescer({
          quietMs: scim.syncDelay,
          maxDelayMs: scim.maxDelay,
          run: () => exclusive(() => sync.run({ trigger: "scim" })),
          onError: (error: unknown) => {
            platform.logger.warn({ err: error }, "directory sync after a SCIM push did not run; the next scheduled run will pick it up");
          },
        })
      : null;
  const afterPush = () => {
    groupLookup?.invalidate();
    pushes?.pushed();
  };

  const webRoutes = express.Router();
  if (scim) {
    webRoutes.use("/scim/v2", scimRouter({ source: scim.name, bearerToken: scim.bearerToken, store: pushed, audit: platform.audit, changed: afterPush }));
  }

  return {
    name: "directory",
    webRoutes,
    ...(groupLookup ? { groupMemberships: groupLookup } : {}),
    handlers: directoryHandlers({
      sync,
      sources,
      rules,
      runs,
      audit: platform.audit,
      clock: platform.clock,
      schedule: config && sync ? formatDuration(config.schedule) : null,
      limits: { maxRemovalShare: guard.maxRemovalShare, maxRemovals: guard.maxRemovals },
      exclusive,
      createRoom: (name) => platform.bot.createRoom({ name, preset: "private_chat", visibility: "private" }),
      csv,
    }),
    async start() {
      if (!sync || !config) return;
      exempt.add(await platform.admin.whoami());
      csv?.watch(platform.jobs);
      platform.jobs.register({ name: DIRECTORY_JOB, intervalMs: config.schedule, runAtStart: true }, async () => {
        // Holding the lock means no other process is applying: an `applying` run was cut short.
        await sync.recoverInterrupted();
        await sync.run({ trigger: "schedule" });
      });
    },
    async stop() {
      await pushes?.stop();
      await asked.idle();
    },
  };
};
