import type { Registry } from "prom-client";
import { databaseGauge } from "../http/metrics.js";
import type { PostgresOperationalCounts } from "../storage/operational-counts.js";

/** Directory sync's metrics (docs/operations.md). */
export function registerDirectoryMetrics(registry: Registry, counts: PostgresOperationalCounts): void {
  databaseGauge(
    registry,
    { name: "handover_directory_runs", help: "Directory sync runs recorded, by outcome (applied, partial, held, refused, ...)", label: "status" },
    () => counts.directoryRunsByStatus(),
  );
  databaseGauge(
    registry,
    { name: "handover_directory_held_run_age_seconds", help: "How long the run held for approval (mass removals) has waited; 0 when none is held" },
    () => counts.heldRunAgeSeconds(),
  );
}
