import { Counter, collectDefaultMetrics, Histogram, Registry } from "prom-client";

/** Prometheus metrics of one Handover instance (its own registry: tests run two in a process). */
export class HandoverMetrics {
  readonly registry = new Registry();
  readonly transactions = new Counter({
    name: "handover_transactions_total",
    help: "Homeserver transactions received, by outcome",
    labelNames: ["outcome"] as const,
    registers: [this.registry],
  });
  readonly ackSeconds = new Histogram({
    name: "handover_transaction_ack_seconds",
    help: "Time from receiving a transaction to acknowledging it",
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [this.registry],
  });
  readonly events = new Counter({
    name: "handover_events_total",
    help: "Events by outcome: handled, failed (will retry), gave_up, quarantined",
    labelNames: ["outcome"] as const,
    registers: [this.registry],
  });
  readonly retentionPurgeFailures = new Counter({
    name: "handover_retention_purge_failures_total",
    help: "Retention purges that failed in a sweep (left open and tried again next sweep)",
    registers: [this.registry],
  });
  readonly httpRequests = new Counter({
    name: "handover_http_requests_total",
    help: "Admin API requests by route and status",
    labelNames: ["route", "status"] as const,
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: "handover_" });
  }
}
