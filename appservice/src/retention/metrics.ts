import { Gauge, Histogram, type Registry } from "prom-client";
import type { PurgePacer } from "../domain/retention/purge-pacer.js";
import { databaseGauge } from "../http/metrics.js";
import type { PostgresOperationalCounts } from "../storage/operational-counts.js";

/** Retention's metrics (docs/operations.md); failed purge attempts are counted by the core's handover_retention_purge_failures_total. */
export function registerRetentionMetrics(registry: Registry, counts: PostgresOperationalCounts): void {
  databaseGauge(
    registry,
    { name: "handover_retention_purges", help: "Deletion records in the purge ledger, by state (complete: done and kept as evidence)", label: "state" },
    () => counts.purgesByState(),
  );
  databaseGauge(registry, { name: "handover_retention_purged_events", help: "Messages deleted by completed purges, all time" }, () => counts.purgedEvents());
  databaseGauge(registry, { name: "handover_retention_failing_rooms", help: "Rooms whose open purge failed last time (retried every sweep)" }, () =>
    counts.roomsWithFailingPurges(),
  );
  databaseGauge(
    registry,
    // A scan of the message index: read once a minute at most.
    {
      name: "handover_retention_unfiled_messages",
      help: "Indexed messages no filing captured: kept until filed or a policy allows their deletion",
      minIntervalMs: 60_000,
    },
    () => counts.unfiledMessages(),
  );
}

/**
 * How retention paces its deletions (docs/performance.md, "Purges that never slow clinicians"):
 * the probe's answer times, and the pacer's own account. Returns the probe's timer.
 */
export function registerPaceMetrics(registry: Registry, pacer: PurgePacer): (seconds: number) => void {
  const probe = new Histogram({
    name: "handover_retention_pace_probe_seconds",
    help: "Answer times of the pace probe (a write of Handover's admin account's account data) while retention deletes",
    buckets: [0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56],
    registers: [registry],
  });
  const stat = (name: string, help: string, value: () => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(value());
      },
    });
  stat("handover_retention_pace_rest_factor", "Rest after a piece of deletion work, as a multiple of how long it kept Synapse busy", () => pacer.restFactor);
  stat("handover_retention_pace_slow_answers", "Probe answers counted slow since start (each doubles the rest)", () => pacer.stats.slowAnswers);
  stat("handover_retention_pace_answers", "Probe answers since start", () => pacer.stats.answers);
  stat(
    "handover_retention_pace_busy_seconds",
    "Time Synapse spent on retention's deletion work since start (pages read, purge calls)",
    () => pacer.stats.busyMs / 1000,
  );
  stat("handover_retention_pace_rested_seconds", "Time retention rested between pieces of deletion work since start", () => pacer.stats.restedMs / 1000);
  return (seconds) => probe.observe(seconds);
}
