import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

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
  readonly pumpLagSeconds = new Histogram({
    name: "handover_event_pump_lag_seconds",
    help: "Time from an event's origin_server_ts to Handover having handled it (clock skew between servers included)",
    buckets: [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600],
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

/** What a gauge read from the database at scrape time counts: one value, or one per label value. */
export type CountedValues = number | ReadonlyMap<string, number>;

/**
 * A gauge whose value is read from the database when /metrics is scraped, so it tells the state
 * every Handover process shares (filings waiting, runs held), not one process's view. Read at
 * most every `minIntervalMs`: scrapes from several Prometheus servers cost one query. A failed
 * read keeps the last values (and is counted) rather than failing the whole scrape.
 */
export function databaseGauge(
  registry: Registry,
  options: { name: string; help: string; label?: string; minIntervalMs?: number },
  read: () => Promise<CountedValues>,
): Gauge {
  const minIntervalMs = options.minIntervalMs ?? 10_000;
  let readAt = Number.NEGATIVE_INFINITY;
  const failures = collectFailures(registry);
  return new Gauge({
    name: options.name,
    help: options.help,
    labelNames: options.label ? [options.label] : [],
    registers: [registry],
    async collect() {
      if (Date.now() - readAt < minIntervalMs) return;
      try {
        const values = await read();
        readAt = Date.now();
        if (typeof values === "number") {
          this.set(values);
          return;
        }
        this.reset();
        for (const [label, value] of values) this.set({ [options.label ?? "value"]: label }, value);
      } catch {
        failures.inc({ metric: options.name });
      }
    },
  });
}

function collectFailures(registry: Registry): Counter<"metric"> {
  const name = "handover_metrics_read_failures_total";
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Counter<"metric">;
  return new Counter({
    name,
    help: "Database reads for a metric that failed at scrape time (the metric kept its last value)",
    labelNames: ["metric"],
    registers: [registry],
  });
}
