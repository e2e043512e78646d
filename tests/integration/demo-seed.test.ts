/**
 * The demo `npm start` seeds (scripts/demo-seed.ts), run against two real Handovers on the
 * harness's two Synapses and a real FHIR server: everything a newcomer should see is there, made
 * through the product's own APIs; seeding again makes nothing twice; and /metrics shows the
 * work (a filing, a purge, a peer's message, events handled) as an on-call engineer would.
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { Handover } from "../../appservice/src/app.js";
import type {
  AgreementList,
  DeletionList,
  DirectoryRuleList,
  DirectoryRunList,
  EnforcementHealth,
  FilingList,
  PatientLinkList,
} from "../../appservice/src/http/contract.js";
import { DEMO_PATIENT, type DemoSeedResult, type DemoTrust, NURSING_RULE, seedDemo } from "../../scripts/demo-seed.js";
import { startFhirServer, type TestFhirServer } from "../harness/fhir-server.js";
import { freePort } from "../harness/util.js";
import { freshDatabase } from "../support/fresh-database.js";
import { startHandover } from "../support/handover-instance.js";
import { eventually } from "../support/matrix-user.js";
import { PortalSession } from "../support/portal-session.js";
import { federationConfig } from "./federation-support.js";

const stack = inject("stack");
const { a: trustA, b: trustB } = stack.trusts;
const databaseUrlA = await freshDatabase(stack.databaseUrls.a, "demo_seed_a");
const databaseUrlB = await freshDatabase(stack.databaseUrls.b, "demo_seed_b");
const PASSWORD = "demo-seed-test-password";
const SCIM_TOKEN = randomBytes(32).toString("hex");
const METRICS_TOKEN = randomBytes(32).toString("hex");
const stamp = Date.now().toString(36);

let fhir: TestFhirServer;
let handoverA: Handover;
let handoverB: Handover;
let demoA: DemoTrust;
let demoB: DemoTrust;
let portalA: PortalSession;
let seeded: DemoSeedResult;

const seed = () => seedDemo({ a: demoA, b: demoB, password: PASSWORD, fhirBaseUrl: fhir.baseUrl, scimToken: SCIM_TOKEN });

/** /metrics read with the bearer token: each series (name and labels as written) to its value. */
async function metrics(handover: Handover): Promise<Map<string, number>> {
  const response = await fetch(`http://127.0.0.1:${handover.webPort}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
  expect(response.status).toBe(200);
  const series = new Map<string, number>();
  for (const line of (await response.text()).split("\n")) {
    if (line.startsWith("#") || line.trim() === "") continue;
    const at = line.lastIndexOf(" ");
    series.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return series;
}
const seriesValue = (series: Map<string, number>, name: string) => series.get(name) ?? 0;

/** What seeding makes, counted through the APIs and the record system. */
async function counts() {
  const [agreements, rules, filings, deletions, links, patients] = await Promise.all([
    portalA.ok<AgreementList>("GET", "/federation/agreements"),
    portalA.ok<DirectoryRuleList>("GET", "/directory/rules"),
    portalA.ok<FilingList>("GET", "/records/filings"),
    portalA.ok<DeletionList>("GET", "/retention/deletions"),
    portalA.ok<PatientLinkList>("GET", "/records/patient-links"),
    fhir.search("Patient", { identifier: `https://fhir.nhs.uk/Id/nhs-number|${DEMO_PATIENT.nhsNumber}` }),
  ]);
  const owner = seeded.users.a[`alice-${stamp}`];
  const rooms = await owner?.request<{ joined_rooms: string[] }>("GET", "/joined_rooms");
  return {
    agreements: agreements.agreements.length,
    rules: rules.rules.length,
    filings: filings.filings.length,
    deletions: deletions.deletions.length,
    links: links.links.length,
    patients: patients.length,
    rooms: rooms?.joined_rooms.length,
  };
}

beforeAll(async () => {
  fhir = await startFhirServer();
  const [portA, portB] = [await freePort(), await freePort()];
  const people = (names: Record<string, DemoTrust["people"][string]>) =>
    Object.fromEntries(Object.entries(names).map(([name, role]) => [`${name}-${stamp}`, role])) as DemoTrust["people"];
  const peopleA = people({ alice: "admin", ian: "ig-lead", audrey: "auditor", nina: "no role" });
  const peopleB = people({ bea: "admin", ben: "no role" });
  const roles = (trust: typeof trustA, of: DemoTrust["people"]) =>
    Object.fromEntries(Object.entries(of).flatMap(([name, role]) => (role === "no role" ? [] : [[`@${name}:${trust.serverName}`, role]])));
  handoverA = await startHandover(trustA, databaseUrlA, {
    webPort: portA,
    roles: roles(trustA, peopleA),
    metricsToken: METRICS_TOKEN,
    retention: { purgePollInterval: "200ms" },
    records: { destination: "fhir", fhir: { baseUrl: fhir.baseUrl } },
    federation: federationConfig(trustA, trustB, portB, "RAA"),
    directory: { schedule: "1h", exempt: [`@alice-${stamp}:${trustA.serverName}`], scim: { name: "entra", bearerToken: SCIM_TOKEN, syncDelay: "1s" } },
  });
  handoverB = await startHandover(trustB, databaseUrlB, {
    webPort: portB,
    roles: roles(trustB, peopleB),
    metricsToken: METRICS_TOKEN,
    federation: federationConfig(trustB, trustA, portA, "RBB"),
  });
  demoA = { trust: trustA, handover: handoverA, people: peopleA };
  demoB = { trust: trustB, handover: handoverB, people: peopleB };
}, 240_000);

afterAll(async () => {
  await handoverA?.stop();
  await handoverB?.stop();
  await fhir?.stop();
});

describe("the demo seeding (npm start)", () => {
  let before: Map<string, number>;

  it("makes an active agreement with a shared room, a directory rule with members, a patient with a name, a filed conversation and a deletion record", async () => {
    before = await metrics(handoverA);
    seeded = await seed();
    portalA = await PortalSession.signIn(handoverA.webPort, `@alice-${stamp}:${trustA.serverName}`, PASSWORD);

    const agreements = (await portalA.ok<AgreementList>("GET", "/federation/agreements")).agreements;
    expect(agreements.map((agreement) => [agreement.peer.serverName, agreement.status])).toEqual([[trustB.serverName, "active"]]);
    const owner = seeded.users.a[`alice-${stamp}`];
    const guest = seeded.users.b[`ben-${stamp}`];
    expect((await owner?.members(seeded.sharedRoomId))?.[guest?.userId ?? ""]).toBe("join");

    const rule = (await portalA.ok<DirectoryRuleList>("GET", "/directory/rules")).rules.find((candidate) => candidate.id === NURSING_RULE);
    expect(rule).toMatchObject({ group: "Ward 7 Nursing", rooms: [seeded.nursingRoomId], joinMode: "force-join" });
    // The SCIM pushes start a run by themselves; the nurse is joined by it.
    const nurse = seeded.users.a[`nina-${stamp}`];
    await eventually(
      "the nurse to be joined to the nursing room by directory sync",
      async () => (await owner?.members(seeded.nursingRoomId))?.[nurse?.userId ?? ""] === "join",
      60_000,
    );
    expect((await portalA.ok<DirectoryRunList>("GET", "/directory/runs")).runs.some((run) => run.status === "applied")).toBe(true);

    const [link] = (await portalA.ok<PatientLinkList>("GET", "/records/patient-links")).links;
    expect(link?.patient).toMatchObject({ nhsNumber: DEMO_PATIENT.nhsNumber, name: expect.stringContaining("SMITH") });
    const filings = (await portalA.ok<FilingList>("GET", "/records/filings")).filings;
    expect(filings.map((filing) => [filing.roomId, filing.status])).toEqual([[seeded.clinicalRoomId, "filed"]]);
    const deletions = (await portalA.ok<DeletionList>("GET", "/retention/deletions")).deletions;
    expect(deletions.map((deletion) => deletion.roomId)).toEqual([seeded.deletionRoomId]);
  }, 600_000);

  it("shows the work on /metrics: the filing, the purge, the partner's accept, events handled and the module asking", async () => {
    const deletions = (await portalA.ok<DeletionList>("GET", "/retention/deletions")).deletions;
    // Gauges read from the database are re-read at most every few seconds.
    const after = await eventually(
      "the metrics read after the seeding",
      async () => {
        const series = await metrics(handoverA);
        return seriesValue(series, 'handover_records_filings{status="filed"}') === 1 ? series : undefined;
      },
      30_000,
    );
    expect(seriesValue(before, 'handover_records_filings{status="filed"}')).toBe(0);
    expect(seriesValue(after, 'handover_records_filing_attempt_seconds_count{outcome="filed"}')).toBe(1);
    expect(seriesValue(before, 'handover_retention_purges{state="complete"}')).toBe(0);
    expect(seriesValue(after, 'handover_retention_purges{state="complete"}')).toBe(1);
    expect(seriesValue(after, "handover_retention_purged_events")).toBe(deletions[0]?.events);
    expect(seriesValue(after, 'handover_federation_messages_total{result="accepted",reason=""}')).toBeGreaterThanOrEqual(1);
    expect(seriesValue(after, "handover_event_pump_lag_seconds_count")).toBeGreaterThan(seriesValue(before, "handover_event_pump_lag_seconds_count"));
    expect(seriesValue(after, 'handover_directory_runs{status="applied"}')).toBeGreaterThanOrEqual(1);
    expect(seriesValue(after, "handover_federation_partner_events_total")).toBeGreaterThan(0);
    expect(seriesValue(after, "handover_federation_module_last_asked_timestamp_seconds")).toBeGreaterThan(0);
    expect(seriesValue(after, "handover_audit_verify_problems")).toBe(0);
    const health = (await portalA.ok<EnforcementHealth>("GET", "/federation/enforcement")).module;
    expect(health.status).toBe("asking");
  });

  it("seeding again makes nothing twice", async () => {
    const first = await counts();
    expect(first).toMatchObject({ agreements: 1, filings: 1, deletions: 1, links: 1, patients: 1 });
    await seed();
    expect(await counts()).toEqual(first);
  }, 600_000);
});
