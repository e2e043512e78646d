#!/usr/bin/env -S node --max-semi-space-size=2 --optimize-for-size
// A smaller young generation keeps the resident set under the ingest target (docs/performance.md).
import { writeFile } from "node:fs/promises";
import { Command } from "commander";
import { Handover } from "./app.js";
import { ConfigError, loadConfig } from "./config/load.js";
import { sampleConfig } from "./config/sample.js";
import type { HandoverConfig } from "./config/schema.js";
import { AuditTrail } from "./domain/audit/audit-trail.js";
import { buildRegistration, renderRegistration } from "./matrix/registration.js";
import { readRegistrationTokens } from "./matrix/registration-file.js";
import { retentionPlanner } from "./retention/capability.js";
import { roomRetentionView } from "./retention/handlers.js";
import { PostgresAuditStore } from "./storage/audit-store.js";
import { createDataSource, migrate } from "./storage/data-source.js";
import { VERSION } from "./version.js";

const DEFAULT_CONFIG = process.env.HANDOVER_CONFIG ?? "config.yaml";

async function withDatabase<T>(config: HandoverConfig, work: (db: ReturnType<typeof createDataSource>) => Promise<T>): Promise<T> {
  const db = createDataSource(config.database.url, 2);
  await db.initialize();
  try {
    return await work(db);
  } finally {
    await db.destroy();
  }
}

async function readAnchors(config: HandoverConfig) {
  const { anchorCheckFor } = await import("./audit/capability.js");
  const { BotClient } = await import("./matrix/bot-client.js");
  const { SynapseAdminClient } = await import("./synapse/admin-client.js");
  const { createLogger } = await import("./logger.js");
  const audit = config.audit as NonNullable<HandoverConfig["audit"]>;
  const tokens = await readRegistrationTokens(config.appservice.registrationFile);
  const botUserId = `@${config.appservice.botLocalpart}:${config.homeserver.serverName}`;
  const admin = new SynapseAdminClient(config.homeserver.url, config.homeserver.adminAccessToken);
  const bot = new BotClient(config.homeserver.url, tokens.asToken, botUserId, admin, createLogger("warn"));
  try {
    return await anchorCheckFor(audit, config.homeserver.serverName, bot);
  } catch (error) {
    throw new Error(`could not read the anchors in the audit room ${audit.room}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

const program = new Command("handover").description("Handover: a clinical messenger a trust owns").version(VERSION);
const configOption = ["-c, --config <path>", "config file", DEFAULT_CONFIG] as const;

program
  .command("generate-registration")
  .description("write the appservice registration file (fresh tokens) for Synapse's app_service_config_files")
  .option(...configOption)
  .option("-o, --output <path>", "where to write it (default: appservice.registrationFile)")
  .option("--force", "overwrite an existing file (changes the tokens)")
  .action(async (options: { config: string; output?: string; force?: boolean }) => {
    const config = await loadConfig(options.config);
    const output = options.output ?? config.appservice.registrationFile;
    const registration = buildRegistration({
      id: config.appservice.id,
      url: config.appservice.url,
      serverName: config.homeserver.serverName,
      botLocalpart: config.appservice.botLocalpart,
    });
    await writeFile(output, renderRegistration(registration), { mode: 0o600, flag: options.force ? "w" : "wx" }).catch((error: NodeJS.ErrnoException) => {
      if (error.code === "EEXIST") throw new Error(`${output} exists; pass --force to replace it (Synapse must then be restarted)`);
      throw error;
    });
    console.log(`wrote ${output}; add it to Synapse's app_service_config_files and restart Synapse`);
  });

program
  .command("migrate")
  .description("apply pending database migrations")
  .option(...configOption)
  .action(async (options: { config: string }) => {
    const config = await loadConfig(options.config);
    const applied = await withDatabase(config, migrate);
    console.log(applied.length === 0 ? "database is up to date" : `applied: ${applied.join(", ")}`);
  });

program
  .command("serve")
  .description("run the appservice, admin API and portal")
  .option(...configOption)
  .option("--migrate", "apply pending migrations first")
  .action(async (options: { config: string; migrate?: boolean }) => {
    const config = await loadConfig(options.config);
    if (options.migrate) await withDatabase(config, migrate);
    const handover = new Handover(config, await readRegistrationTokens(config.appservice.registrationFile));
    await handover.start();
    const shutdown = (signal: string) => {
      handover.logger.info({ signal }, "stopping");
      handover.stop().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    };
    process.once("SIGTERM", shutdown);
    process.once("SIGINT", shutdown);
  });

program
  .command("sync")
  .description("run directory sync once: print the changes (with --dry-run, only print them)")
  .option(...configOption)
  .option("--dry-run", "compute and print the changes without making them")
  .action(async (options: { config: string; dryRun?: boolean }) => {
    const { syncFromCli, describeRun } = await import("./directory/cli.js");
    const { createLogger } = await import("./logger.js");
    const config = await loadConfig(options.config);
    const tokens = await readRegistrationTokens(config.appservice.registrationFile);
    console.log(describeRun(await syncFromCli(config, tokens, createLogger("warn"), options.dryRun ?? false)));
  });

const configCommand = program.command("config").description("configuration tools");
configCommand
  .command("check")
  .description("validate the config file and report every problem")
  .option(...configOption)
  .action(async (options: { config: string }) => {
    const config = await loadConfig(options.config);
    await readRegistrationTokens(config.appservice.registrationFile);
    console.log(`${options.config}: valid`);
  });
configCommand
  .command("sample")
  .description("print a sample config generated from the schema")
  .action(() => {
    process.stdout.write(sampleConfig());
  });

program
  .command("retention")
  .description("retention tools")
  .command("plan")
  .description("dry run: per room, what the next retention sweep would delete, when and why (changes nothing)")
  .option(...configOption)
  .option("--json", "print JSON instead of a table")
  .option("--due", "only rooms with something due now")
  .action(async (options: { config: string; json?: boolean; due?: boolean }) => {
    const config = await loadConfig(options.config);
    const plans = await withDatabase(config, (db) => retentionPlanner(db, config.retention).plan());
    const shown = options.due ? plans.filter((plan) => plan.status === "due") : plans;
    if (options.json) {
      console.log(JSON.stringify(shown.map(roomRetentionView), null, 2));
      return;
    }
    if (!config.retention) console.log("retention is off in this config (no `retention` section): nothing will be deleted until it is added\n");
    for (const plan of shown.map(roomRetentionView)) {
      console.log(`${plan.roomId}  ${plan.name ?? ""}`);
      console.log(`  kind: ${plan.kind ?? "unclassified"}  policy: ${plan.policy?.name ?? "none"}  status: ${plan.status}`);
      if (plan.deleteUpTo)
        console.log(
          `  would delete ${plan.dueEvents} message(s) sent up to ${plan.deleteUpTo}${plan.includesUnfiled ? " (including unfiled clinical content)" : ""}`,
        );
      if (plan.nextDeletionAt) console.log(`  next deletion: ${plan.nextDeletionAt}`);
      if (plan.warningDueAt) console.log(`  would warn the room of a deletion on ${plan.warningDueAt}`);
      console.log(`  filed: ${plan.filedEvents}  unfiled: ${plan.unfiledEvents}  why: ${plan.reason}`);
    }
    console.log(`${shown.length} room(s); ${plans.filter((plan) => plan.status === "due").length} due now`);
  });

program
  .command("audit")
  .description("audit trail tools")
  .command("verify")
  .description("check the audit trail's hash chain, and against the anchors in the audit room (config `audit`); exits 1 when it was tampered with")
  .option(...configOption)
  .action(async (options: { config: string }) => {
    const config = await loadConfig(options.config);
    // Anchors are read before the chain, so that none is newer than the head verify reads.
    const anchors = config.audit ? await readAnchors(config) : undefined;
    const result = await withDatabase(config, (db) => new AuditTrail(new PostgresAuditStore(db)).verify(anchors));
    if (result.ok) {
      console.log(`audit trail intact: ${result.checked} entries checked`);
      if (anchors) console.log(`matches all ${anchors.anchors} anchor(s) in the audit room ${config.audit?.room}`);
      else console.log("no audit room configured (config `audit`): a chain rewritten consistently by the database owner would not be detected");
      return;
    }
    console.error(`audit trail BROKEN: ${result.problems.length} problem(s) in ${result.checked} entries`);
    for (const problem of result.problems) console.error(`  entry ${problem.seq}: ${problem.problem}`);
    process.exitCode = 1;
  });

program.parseAsync().catch((error: unknown) => {
  console.error(error instanceof ConfigError ? error.message : `handover: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(error instanceof ConfigError ? 2 : 1);
});
