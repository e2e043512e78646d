import type { Logger } from "pino";
import type { HandoverConfig } from "../config/schema.js";
import { AuditTrail } from "../domain/audit/audit-trail.js";
import { systemClock } from "../domain/clock.js";
import type { RunResult } from "../domain/directory/reconciler.js";
import { BotClient } from "../matrix/bot-client.js";
import type { AppserviceTokens } from "../matrix/registration-file.js";
import { PostgresAuditStore } from "../storage/audit-store.js";
import { createDataSource } from "../storage/data-source.js";
import { JobScheduler } from "../storage/job-scheduler.js";
import { SynapseAdminClient } from "../synapse/admin-client.js";
import { buildDirectorySync, DIRECTORY_JOB } from "./capability.js";
import { actionView } from "./views.js";

/**
 * `handover sync [--dry-run]`: one directory sync run from the command line. A real run takes
 * the same PostgreSQL lock as the scheduled job, so it never overlaps a running Handover's.
 */
export async function syncFromCli(config: HandoverConfig, tokens: AppserviceTokens, logger: Logger, dryRun: boolean): Promise<RunResult> {
  const db = createDataSource(config.database.url, 2);
  await db.initialize();
  try {
    const botUserId = `@${config.appservice.botLocalpart}:${config.homeserver.serverName}`;
    const admin = new SynapseAdminClient(config.homeserver.url, config.homeserver.adminAccessToken);
    const bot = new BotClient(config.homeserver.url, tokens.asToken, botUserId, admin, logger);
    const audit = new AuditTrail(new PostgresAuditStore(db));
    const { sync, exempt } = buildDirectorySync({ config, db, admin, bot, botUserId, audit, clock: systemClock });
    if (!sync) throw new Error("directory sync is not configured: add a source under `directory` in the config");
    exempt.add(await admin.whoami());
    if (dryRun) return await sync.run({ trigger: "manual", actor: "handover:cli", dryRun: true });
    const jobs = new JobScheduler(db, logger);
    let result: RunResult | undefined;
    jobs.register({ name: DIRECTORY_JOB, intervalMs: 2 ** 30 }, async () => {
      await sync.recoverInterrupted();
      result = await sync.run({ trigger: "manual", actor: "handover:cli" });
    });
    // stop() closes the scheduler's lock connection, which would otherwise keep the CLI alive.
    const ran = await jobs.runNow(DIRECTORY_JOB).finally(() => jobs.stop());
    if (!ran || !result) throw new Error("a directory sync run is in progress elsewhere; try again shortly");
    return result;
  } finally {
    await db.destroy();
  }
}

/** The run as lines of text for a terminal. */
export function describeRun(result: RunResult): string {
  const { summary } = result;
  const lines = [
    `status: ${result.status}${result.reason ? ` (${result.reason})` : ""}${result.runId ? `, run ${result.runId}` : ""}`,
    `people: ${summary.people}, managed rooms: ${summary.rooms}, managed memberships: ${summary.managedMemberships}`,
    `additions: ${summary.additions}, removals: ${summary.removals}, power changes: ${summary.powerChanges}, leaver steps: ${summary.leaverSteps}`,
  ];
  if (summary.unreadableRooms.length > 0) lines.push(`rooms the bot cannot read: ${summary.unreadableRooms.join(", ")}`);
  for (const action of result.actions.map((item) => actionView(item))) {
    const who = [action.userId, action.roomId && `in ${action.roomId}`].filter(Boolean).join(" ");
    const why = action.why ?? (action.rules.length > 0 ? `rule ${action.rules.join(", ")}` : "");
    const changes = action.changes.map((change) => `${change.userId} ${change.from}->${change.to}`).join(", ");
    lines.push(`  ${action.kind.padEnd(12)} ${who}${changes ? ` ${changes}` : ""}${why ? ` (${why})` : ""}`);
  }
  return lines.join("\n");
}
