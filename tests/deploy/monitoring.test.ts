/**
 * The Grafana dashboard and the Prometheus alert rules in deploy/monitoring name metrics by
 * hand; a renamed metric would leave a panel blank and an alert silent. Every metric they use
 * must be one the real Handover registers: the composition root is built (no I/O) with every
 * capability configured, and its registry is read.
 */
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import pino from "pino";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { Handover } from "../../appservice/src/app.js";
import { parseConfig } from "../../appservice/src/config/load.js";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const read = (path: string): string => readFileSync(join(repo, path), "utf8");
const KEY = "0123456789abcdef0123456789abcdef0123456789abcdef";

/** A Handover with every capability on; built, never started. */
function fullyConfigured(): Handover {
  const config = parseConfig({
    homeserver: { serverName: "trust.test", url: "http://127.0.0.1:1", adminAccessToken: "admin-token" },
    appservice: { id: "handover", botLocalpart: "handover", port: 9000, url: "http://127.0.0.1:9000", registrationFile: "/nonexistent/registration.yaml" },
    database: { url: "postgres://handover@127.0.0.1:1/handover" },
    web: { port: 8080, publicUrl: "https://handover.trust.test" },
    access: { roles: {} },
    retention: {},
    directory: { scim: { name: "entra", bearerToken: KEY } },
    records: { destination: "fhir", fhir: { baseUrl: "http://127.0.0.1:1/fhir" }, patientLookup: { auditKey: KEY } },
    federation: {
      organisation: { name: "Trust NHS Foundation Trust", odsCode: "RXX", contact: "federation@trust.test" },
      keyEncryptionSecret: KEY,
      peers: {},
    },
    e2ee: { stateKey: KEY },
    audit: { room: "!audit:trust.test", signingKey: Buffer.alloc(32, 7).toString("base64") },
  });
  return new Handover(config, { asToken: "as-token", hsToken: "hs-token", senderLocalpart: "handover" }, { logger: pino({ level: "silent" }) });
}

/** Every series name a registered metric exposes (histograms: _bucket, _sum, _count). */
async function exposedNames(handover: Handover): Promise<Set<string>> {
  const names = new Set<string>();
  for (const metric of await handover.metrics.registry.getMetricsAsJSON()) {
    names.add(metric.name);
    if (String(metric.type) === "histogram") for (const suffix of ["_bucket", "_sum", "_count"]) names.add(metric.name + suffix);
  }
  return names;
}

const metricNamesIn = (expression: string): string[] => expression.match(/\bhandover_[a-z0-9_]+\b/g) ?? [];

interface AlertRules {
  groups: { name: string; rules: { alert: string; expr: string; annotations?: { summary?: string } }[] }[];
}
interface Dashboard {
  panels: { title: string; type: string; targets?: { expr: string }[] }[];
}

describe("deploy/monitoring", () => {
  const rules = parse(read("deploy/monitoring/prometheus-alerts.yaml")) as AlertRules;
  const dashboard = JSON.parse(read("deploy/monitoring/grafana-dashboard.json")) as Dashboard;
  const alerts = rules.groups.flatMap((group) => group.rules);
  const panels = dashboard.panels.filter((panel) => panel.type !== "row");

  it("every metric the dashboard and alert rules name is registered by Handover with every capability configured", async () => {
    const registered = await exposedNames(fullyConfigured());
    const used = [
      ...alerts.flatMap((rule) => metricNamesIn(rule.expr).map((name) => ({ name, where: `alert ${rule.alert}` }))),
      ...panels.flatMap((panel) =>
        (panel.targets ?? []).flatMap((target) => metricNamesIn(target.expr).map((name) => ({ name, where: `panel ${panel.title}` }))),
      ),
    ];
    expect(used.length).toBeGreaterThan(20);
    expect(used.filter(({ name }) => !registered.has(name))).toEqual([]);
  });

  it("each capability's metrics are registered and on the dashboard", async () => {
    const registered = await exposedNames(fullyConfigured());
    const onDashboard = new Set(panels.flatMap((panel) => (panel.targets ?? []).flatMap((target) => metricNamesIn(target.expr))));
    for (const prefix of [
      "handover_retention_",
      "handover_records_",
      "handover_directory_",
      "handover_federation_",
      "handover_e2ee_",
      "handover_audit_verify_",
      "handover_event_pump_",
    ]) {
      expect(
        [...registered].some((name) => name.startsWith(prefix)),
        prefix,
      ).toBe(true);
      expect(
        [...onDashboard].some((name) => name.startsWith(prefix)),
        prefix,
      ).toBe(true);
    }
  });

  it("the alert rules cover filing failing for an hour, a held run, audit verify, the Synapse module not asking and pump lag", () => {
    const byName = new Map(alerts.map((rule) => [rule.alert, rule.expr]));
    expect(byName.get("HandoverFilingFailing")).toContain("handover_records_oldest_pending_filing_seconds) > 3600");
    expect(byName.get("HandoverDirectoryRunHeld")).toContain("handover_directory_held_run_age_seconds");
    expect(byName.get("HandoverAuditVerifyFailing")).toContain("handover_audit_verify_problems");
    expect(byName.get("HandoverSynapseModuleNotAsking")).toContain("handover_federation_module_last_asked_timestamp_seconds");
    expect(byName.get("HandoverSynapseModuleNotAsking")).toContain("handover_federation_partner_events_total");
    expect(byName.get("HandoverEventPumpLagHigh")).toContain("handover_event_pump_lag_seconds_bucket");
    for (const rule of alerts) expect(rule.annotations?.summary, rule.alert).toBeTruthy();
  });
});
