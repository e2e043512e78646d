import { Histogram, type Registry } from "prom-client";
import type { RecordDestination } from "../domain/records/record-destination.js";
import { RecordSystemError } from "../domain/records/record-destination.js";
import { databaseGauge } from "../http/metrics.js";
import type { PostgresOperationalCounts } from "../storage/operational-counts.js";

/** EHR filing's metrics (docs/operations.md); returns the destination, timed. */
export function registerRecordsMetrics(registry: Registry, counts: PostgresOperationalCounts, destination: RecordDestination | null): RecordDestination | null {
  databaseGauge(
    registry,
    { name: "handover_records_filings", help: "Filings by status (awaiting_confirmation, sending, retrying, filed, failed, cancelled)", label: "status" },
    () => counts.filingsByStatus(),
  );
  databaseGauge(
    registry,
    { name: "handover_records_oldest_pending_filing_seconds", help: "How long the oldest filing still being sent or retried has waited; 0 when none" },
    () => counts.oldestPendingFilingSeconds(),
  );
  const attempts = new Histogram({
    name: "handover_records_filing_attempt_seconds",
    help: "Delivery attempts to the record system, by outcome (filed, unavailable, refused, error)",
    labelNames: ["outcome"] as const,
    buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [registry],
  });
  if (!destination) return null;
  return {
    kind: destination.kind,
    async deliver(exportId, document) {
      const stop = attempts.startTimer();
      try {
        const receipt = await destination.deliver(exportId, document);
        stop({ outcome: "filed" });
        return receipt;
      } catch (error) {
        stop({ outcome: error instanceof RecordSystemError ? error.kind : "error" });
        throw error;
      }
    },
  };
}
