/**
 * `npm start`: a working local Handover stack on loopback: two trusts' Synapses federating,
 * PostgreSQL, a Handover for each trust serving its portal, and the demo seeded through the
 * product's own APIs (scripts/demo-seed.ts). Everything it starts stops on Ctrl-C. Nothing is
 * kept between runs. HANDOVER_DEMO_PORT_OFFSET moves every fixed port (two demos on one machine).
 */

import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { resolve } from "node:path";
import type { Handover } from "../appservice/src/app.js";
import { startFhirServer } from "../tests/harness/fhir-server.js";
import { buildSynapseRoot, startStack } from "../tests/harness/stack.js";
import { requireSystemPackages } from "../tests/harness/util.js";
import { startHandover } from "../tests/support/handover-instance.js";
import { type DemoRole, type DemoTrust, seedDemo } from "./demo-seed.js";

const PASSWORD = "handover-demo";
/** Secrets as `handover config check` wants them (32+ random bytes); nothing outlives the run. */
const secret = () => randomBytes(32).toString("hex");
/** Bearer token the demo's SCIM endpoint accepts (trust A), as Entra ID provisioning would send. */
const DEMO_SCIM_TOKEN = secret();
/** Bearer token each trust's /metrics asks for, as a trust's Prometheus would send it. */
const DEMO_METRICS_TOKEN = secret();
/** Added to every fixed port below, so that a second demo (another engineer's) can run beside the first. */
function portOffset(): number {
  const text = process.env.HANDOVER_DEMO_PORT_OFFSET ?? "0";
  const offset = Number(text);
  if (!Number.isInteger(offset) || offset < 0 || offset > 50_000) {
    throw new Error(`HANDOVER_DEMO_PORT_OFFSET must be a whole number from 0 to 50000 (got ${JSON.stringify(text)})`);
  }
  return offset;
}
const OFFSET = portOffset();
const shifted = (ports: Record<"federation" | "client" | "appservice" | "web", number>) =>
  Object.fromEntries(Object.entries(ports).map(([name, port]) => [name, port + OFFSET])) as typeof ports;
const PORTS = {
  a: shifted({ federation: 8481, client: 8471, appservice: 9001, web: 8091 }),
  b: shifted({ federation: 8482, client: 8472, appservice: 9002, web: 8092 }),
};

async function main(): Promise<void> {
  console.log("Building the portal…");
  execFileSync("npm", ["run", "build", "-w", "portal"], { stdio: ["ignore", "ignore", "inherit"] });
  console.log("Preparing Synapse (the first run builds a Debian root; later runs reuse it)…");
  requireSystemPackages();
  const root = await buildSynapseRoot();
  const stack = await startStack({ trusts: ["a", "b"], root, ports: { a: PORTS.a, b: PORTS.b } });
  // A demo record system: a real FHIR R4 server (in memory) on loopback.
  const fhir = await startFhirServer();
  const handovers: Handover[] = [];
  const stop = async () => {
    await Promise.allSettled(handovers.map((handover) => handover.stop()));
    await fhir.stop();
    await stack.stop();
    process.exit(0);
  };
  process.once("SIGINT", () => void stop());
  process.once("SIGTERM", () => void stop());

  const people: Record<"a" | "b", Record<string, DemoRole>> = {
    a: { alice: "admin", ian: "ig-lead", audrey: "auditor", nina: "no role" },
    b: { bea: "admin", ben: "no role" },
  };
  const demo: Partial<Record<"a" | "b", DemoTrust>> = {};
  try {
    for (const key of ["a", "b"] as const) {
      const trust = stack.trusts[key];
      const roles = Object.fromEntries(
        Object.entries(people[key])
          .filter(([, role]) => role !== "no role")
          .map(([localpart, role]) => [`@${localpart}:${trust.serverName}`, role as "admin" | "ig-lead" | "auditor"]),
      );
      const peer = key === "a" ? "b" : "a";
      const letter = key.toUpperCase();
      const handover = await startHandover(trust, stack.databaseUrls[key], {
        roles,
        portalDir: resolve("portal/dist"),
        webPort: PORTS[key].web,
        metricsToken: DEMO_METRICS_TOKEN,
        logLevel: "info",
        retention: {},
        // The bot's own encryption device, so encrypted rooms can be filed (docs/e2ee.md).
        e2ee: { stateKey: secret() },
        records: { destination: "fhir", fhir: { baseUrl: fhir.baseUrl }, patientLookup: { auditKey: secret() } },
        federation: {
          organisation: { name: `Demo Trust ${letter} NHS Foundation Trust`, odsCode: `R${letter}${letter}`, contact: `federation@trust-${key}.test` },
          keyEncryptionSecret: secret(),
          peers: { [stack.trusts[peer].serverName]: `http://127.0.0.1:${PORTS[peer].web}` },
          allowInsecurePeers: true,
          // The demo runs both trusts on loopback; each expects the other's first contact.
          allowLocalPeers: true,
          expectedPartners: [stack.trusts[peer].serverName],
        },
        ...(key === "a"
          ? { directory: { schedule: "5m", exempt: [`@alice:${trust.serverName}`], scim: { name: "entra", bearerToken: DEMO_SCIM_TOKEN, syncDelay: "5s" } } }
          : {}),
      });
      handovers.push(handover);
      demo[key] = { trust, handover, people: people[key] };
    }
    await seedDemo({
      a: demo.a as DemoTrust,
      b: demo.b as DemoTrust,
      password: PASSWORD,
      fhirBaseUrl: fhir.baseUrl,
      scimToken: DEMO_SCIM_TOKEN,
      say: (line) => console.log(line),
    });
  } catch (error) {
    // Stop what was started before reporting: nothing is left running after a failed start.
    await Promise.allSettled(handovers.map((handover) => handover.stop()));
    await fhir.stop();
    await stack.stop();
    throw error;
  }

  const lines = ["", "Handover is running.", ""];
  for (const key of ["a", "b"] as const) {
    const trust = stack.trusts[key];
    lines.push(`Trust ${key.toUpperCase()} (${trust.serverName})`);
    lines.push(`  Portal:      http://127.0.0.1:${PORTS[key].web}/`);
    lines.push(`  Synapse:     ${trust.clientUrl} (point any Matrix client here)`);
    for (const [localpart, role] of Object.entries(people[key])) lines.push(`  @${localpart}:${trust.serverName}  password ${PASSWORD}  (${role})`);
    lines.push("");
  }
  lines.push(`Record system (FHIR R4, in memory): ${fhir.baseUrl}`);
  lines.push(`SCIM 2.0 for trust A: http://127.0.0.1:${PORTS.a.web}/scim/v2  bearer token ${DEMO_SCIM_TOKEN}`);
  lines.push(`Metrics: curl -H "Authorization: Bearer ${DEMO_METRICS_TOKEN}" http://127.0.0.1:${PORTS.a.web}/metrics (and ${PORTS.b.web} for B)`);
  lines.push("");
  lines.push("Seeded: an active agreement A<->B with a shared room, a SCIM directory with a rule, patient 943 476 5919 in the");
  lines.push("record system, a filed conversation in Ward 7 clinical (A) and a deletion record in Ward 7 rota archive (A).");
  lines.push("");
  lines.push("Ctrl-C stops everything.");
  console.log(lines.join("\n"));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
