/**
 * `npm start`: a working local Handover stack on loopback: two trusts' Synapses federating,
 * PostgreSQL, a Handover for each trust serving its portal, demo users and rooms. Everything
 * it starts stops on Ctrl-C. Nothing is kept between runs.
 */

import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { resolve } from "node:path";
import type { Handover } from "../appservice/src/app.js";
import { CLASSIFICATION_EVENT_TYPE } from "../appservice/src/domain/rooms/room.js";
import { startFhirServer } from "../tests/harness/fhir-server.js";
import { buildSynapseRoot, startStack, type TrustInfo } from "../tests/harness/stack.js";
import { requireSystemPackages } from "../tests/harness/util.js";
import { startHandover } from "../tests/support/handover-instance.js";
import { eventually, TestUser } from "../tests/support/matrix-user.js";

const PASSWORD = "handover-demo";
/** Secrets as `handover config check` wants them (32+ random bytes); nothing outlives the run. */
const secret = () => randomBytes(32).toString("hex");
/** Bearer token the demo's SCIM endpoint accepts (trust A), as Entra ID provisioning would send. */
const DEMO_SCIM_TOKEN = secret();
const PORTS = {
  a: { federation: 8481, client: 8471, appservice: 9001, web: 8091 },
  b: { federation: 8482, client: 8472, appservice: 9002, web: 8092 },
} as const;

async function seed(trust: TrustInfo, handover: Handover, people: Record<string, string>): Promise<TestUser[]> {
  const users = await Promise.all(Object.keys(people).map((localpart) => TestUser.register(trust, localpart, PASSWORD)));
  const [owner] = users;
  if (!owner) return users;
  const rooms: [string, "clinical" | "operational" | null][] = [
    [`Ward 7 clinical (${trust.key.toUpperCase()})`, "clinical"],
    [`Ward 7 rota (${trust.key.toUpperCase()})`, "operational"],
    [`Ward 7 social (${trust.key.toUpperCase()})`, null],
  ];
  for (const [name, kind] of rooms) {
    const roomId = await owner.createRoom(name, { invite: users.slice(1).map((user) => user.userId) });
    await owner.invite(roomId, handover.botUserId);
    await eventually(`the bot to join ${name}`, async () => (await owner.members(roomId))[handover.botUserId] === "join");
    if (kind) {
      await owner.send(roomId, `!handover classify ${kind}`);
      await eventually(
        `${name} to be classified`,
        async () => (await owner.state<{ kind?: string }>(roomId, CLASSIFICATION_EVENT_TYPE).catch(() => ({ kind: undefined }))).kind === kind,
      );
    }
  }
  return users;
}

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

  const people = {
    a: { alice: "admin", ian: "ig-lead", audrey: "auditor", nina: "no role" },
    b: { bea: "admin", ben: "no role" },
  } as const;
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
        ...(key === "a" ? { directory: { schedule: "5m", scim: { name: "entra", bearerToken: DEMO_SCIM_TOKEN, syncDelay: "5s" } } } : {}),
      });
      handovers.push(handover);
      await seed(trust, handover, people[key]);
    }
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
  lines.push("");
  lines.push("Ctrl-C stops everything.");
  console.log(lines.join("\n"));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
