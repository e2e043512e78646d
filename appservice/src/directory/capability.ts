import express from "express";
import type { Capability, CapabilityFactory, Platform } from "../capability.js";
import { parseDuration } from "../config/duration.js";
import { ActionExecutor } from "../domain/directory/executor.js";
import { IdentityTemplate } from "../domain/directory/identity.js";
import type { DirectorySource } from "../domain/directory/model.js";
import { DirectorySync } from "../domain/directory/reconciler.js";
import { HandoverError } from "../domain/errors.js";
import { PostgresCsvImportStore } from "../storage/directory-csv-store.js";
import { PostgresDirectoryIdentityStore } from "../storage/directory-identity-store.js";
import { PostgresLdapSnapshotStore } from "../storage/directory-ldap-store.js";
import { PostgresPushedDirectoryStore } from "../storage/directory-pushed-store.js";
import { PostgresDirectoryRuleStore } from "../storage/directory-rule-store.js";
import { PostgresDirectoryRunStore } from "../storage/directory-run-store.js";
import { CsvImporter } from "./csv-import.js";
import { CsvSources } from "./csv-sources.js";
import { DirectoryGroupLookup } from "./group-memberships.js";
import { directoryHandlers } from "./handlers.js";
import { LdapDirectorySource } from "./ldap-source.js";
import { PushCoalescer } from "./push-coalescer.js";
import { PushedDirectorySource } from "./pushed-source.js";
import { scimRouter } from "./scim-router.js";
import { SynapseMembership } from "./synapse-membership.js";

export const DIRECTORY_JOB = "directory-sync";
const DAY_MS = 86_400_000;

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
          executor: new ActionExecutor(membership, membership, platform.audit, platform.clock, {
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
            windowMs: config.removalWindow === "off" ? 0 : (parseDuration(config.removalWindow) ?? DAY_MS),
          },
          plan: {
            serverName: platform.config.homeserver.serverName,
            botUserId: platform.botUserId,
            exempt,
            leaverPolicy: {
              action: config.leavers.action,
              endSessions: config.leavers.endSessions,
              graceMs: parseDuration(config.leavers.grace) ?? 7 * DAY_MS,
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
  // Work handed to the locked job (a manual run, an approval); the job otherwise runs on schedule.
  interface Pending {
    work: () => Promise<unknown>;
    resolve(value: unknown): void;
    reject(error: unknown): void;
  }
  let pending: Pending | null = null;
  let chain: Promise<unknown> = Promise.resolve();
  const groupLookup = sync
    ? new DirectoryGroupLookup(
        () => sync.desired(),
        () => platform.clock.now().getTime(),
        parseDuration(platform.config.access.accountRecheck) ?? 30_000,
      )
    : null;
  const exclusive = <T>(work: () => Promise<T>): Promise<T> => {
    const next = chain.then(
      () =>
        new Promise<T>((resolve, reject) => {
          const mine: Pending = { work, resolve: resolve as (value: unknown) => void, reject };
          pending = mine;
          const deadline = Date.now() + 120_000;
          const attempt = async (): Promise<void> => {
            // Another process (or this one's scheduled tick) may hold the lock: wait for our turn.
            while (pending === mine) {
              if (await platform.jobs.runNow(DIRECTORY_JOB)) return;
              if (Date.now() > deadline) {
                pending = null;
                reject(new HandoverError("CONFLICT", "A directory sync run is in progress in another Handover process; try again shortly"));
                return;
              }
              await new Promise((wake) => setTimeout(wake, 500));
            }
          };
          attempt().catch((error: unknown) => {
            if (pending === mine) pending = null;
            reject(error);
          });
        }),
    );
    chain = next.catch(() => undefined);
    // A run or an import may have changed who is in which group.
    return next.finally(() => groupLookup?.invalidate());
  };

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

  const pushes = sync
    ? new PushCoalescer({
        quietMs: parseDuration(config?.scim?.syncDelay ?? "1s") ?? 1_000,
        maxDelayMs: parseDuration(config?.scim?.maxDelay ?? "10s") ?? 10_000,
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
  if (config?.scim) {
    webRoutes.use(
      "/scim/v2",
      scimRouter({ source: config.scim.name, bearerToken: config.scim.bearerToken, store: pushed, audit: platform.audit, changed: afterPush }),
    );
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
      schedule: config && sync ? config.schedule : null,
      limits: { maxRemovalShare: config?.maxRemovalShare ?? 0.05, maxRemovals: config?.maxRemovals ?? 500 },
      exclusive,
      createRoom: (name) => platform.bot.createRoom({ name, preset: "private_chat", visibility: "private" }),
      csv,
    }),
    async start() {
      if (!sync || !config) return;
      exempt.add(await platform.admin.whoami());
      csv?.watch(platform.jobs);
      platform.jobs.register({ name: DIRECTORY_JOB, intervalMs: parseDuration(config.schedule) ?? 300_000, runAtStart: true }, async () => {
        // Holding the lock means no other process is applying: an `applying` run was cut short.
        await sync.recoverInterrupted();
        const mine = pending;
        pending = null;
        if (!mine) {
          await sync.run({ trigger: "schedule" });
          return;
        }
        try {
          mine.resolve(await mine.work());
        } catch (error) {
          mine.reject(error);
        }
      });
    },
    async stop() {
      await pushes?.stop();
      await chain;
    },
  };
};
