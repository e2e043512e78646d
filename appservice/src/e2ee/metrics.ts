import { Counter, type Registry } from "prom-client";

/** Encrypted rooms' metrics (docs/operations.md). */
export function registerE2eeMetrics(registry: Registry) {
  return new Counter({
    name: "handover_e2ee_undecryptable_events_total",
    help: "Encrypted events the bot's device could not read when they arrived (missing room key, mostly): listed as missing in filings",
    registers: [registry],
  });
}
