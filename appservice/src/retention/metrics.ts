import type { Registry } from "prom-client";
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
