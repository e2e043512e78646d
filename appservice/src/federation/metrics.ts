import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { AgreementChangeListener } from "../domain/federation/ports.js";

/** Federation's metrics (docs/operations.md). */
export function registerFederationMetrics(registry: Registry, moduleLastAskedAt: () => Date | null) {
  const messages = new Counter({
    name: "handover_federation_messages_total",
    help: "Signed agreement messages from peer trusts, accepted or refused (by reason)",
    labelNames: ["result", "reason"] as const,
    registers: [registry],
  });
  const withdrawals = new Histogram({
    name: "handover_federation_revocation_seconds",
    help: "Time to enforce an agreement's end (revoked or suspended): server ACLs and removals in every shared room",
    labelNames: ["status"] as const,
    buckets: [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers: [registry],
  });
  const partnerEvents = new Counter({
    name: "handover_federation_partner_events_total",
    help: "Events from users of other servers: each came through Synapse's federation module, which asks Handover when its cache has expired",
    registers: [registry],
  });
  new Gauge({
    name: "handover_federation_module_last_asked_timestamp_seconds",
    help: "When the Synapse module last asked for the allowed servers (Unix time; 0: not asked since start)",
    registers: [registry],
    collect() {
      this.set((moduleLastAskedAt()?.getTime() ?? 0) / 1000);
    },
  });
  return {
    accepted: () => messages.inc({ result: "accepted", reason: "" }),
    partnerEvent: () => partnerEvents.inc(),
    refused: (reason: string) => messages.inc({ result: "refused", reason }),
    /** The enforcement listener, timing each change that ends access. */
    timed(listener: AgreementChangeListener): AgreementChangeListener {
      return {
        async agreementsChanged(change) {
          const { status } = change.agreement;
          const ending = change.previousStatus === "active" && (status === "revoked" || status === "suspended");
          if (!ending) return listener.agreementsChanged(change);
          const stop = withdrawals.startTimer({ status });
          try {
            await listener.agreementsChanged(change);
          } finally {
            stop();
          }
        },
      };
    },
  };
}
