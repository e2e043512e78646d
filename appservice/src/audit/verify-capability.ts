import { Gauge } from "prom-client";
import type { Capability, CapabilityFactory } from "../capability.js";
import { anchorCheckFor } from "./capability.js";

export const VERIFY_JOB = "audit-verify";
/** Hourly: a rewritten trail is noticed within the hour, and a full scan an hour is cheap. */
const VERIFY_EVERY_MS = 3_600_000;

/**
 * Runs `handover audit verify` in the service, in one process at a time, and tells /metrics
 * what it found, so a broken hash chain (or a trail that no longer matches its anchors)
 * raises an alert instead of waiting for someone to run the command.
 */
export const auditVerifyCapability: CapabilityFactory = (platform): Capability => {
  const registers = [platform.metrics.registry];
  const problems = new Gauge({ name: "handover_audit_verify_problems", help: "Problems the last audit trail verification found (0: intact)", registers });
  const checked = new Gauge({ name: "handover_audit_verify_checked_entries", help: "Audit entries the last verification checked", registers });
  const lastRun = new Gauge({
    name: "handover_audit_verify_last_run_timestamp_seconds",
    help: "When this process last finished verifying the audit trail (Unix time; 0: not since start)",
    registers,
  });
  return {
    name: "audit-verify",
    async start(): Promise<void> {
      platform.jobs.register({ name: VERIFY_JOB, intervalMs: VERIFY_EVERY_MS, runAtStart: true }, async () => {
        const audit = platform.config.audit;
        // As the command does: anchors first, so that none is newer than the head verify reads.
        const anchors = audit ? await anchorCheckFor(audit, platform.config.homeserver.serverName, platform.bot) : undefined;
        const result = await platform.audit.verify(anchors);
        problems.set(result.problems.length);
        checked.set(result.checked);
        lastRun.set(platform.clock.now().getTime() / 1000);
        if (!result.ok) platform.logger.error({ problems: result.problems.slice(0, 20) }, "audit trail verification found problems");
      });
    },
  };
};
