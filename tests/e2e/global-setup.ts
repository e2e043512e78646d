import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Handover } from "../../appservice/src/app.js";
import { startFhirServer } from "../harness/fhir-server.js";
import { buildSynapseRoot, startStack, type TrustInfo } from "../harness/stack.js";
import { freePort, freePortExcept, requireSystemPackages } from "../harness/util.js";
import { startHandover } from "../support/handover-instance.js";
import { eventually, TestUser } from "../support/matrix-user.js";
import { E2E_ESR_HEADER, E2E_SCIM_TOKEN, type E2eInfo, type E2eTrust } from "./e2e-info.js";

export const PASSWORD = "e2e-password-123";

/** Federation between the two e2e trusts over loopback http (docs/federation.md). */
function e2eFederationConfig(trust: TrustInfo, peer: TrustInfo, peerWebPort: number) {
  const letter = trust.key.toUpperCase();
  return {
    organisation: { name: `Trust ${letter} NHS Foundation Trust`, odsCode: `R${letter}${letter}`, contact: `federation@trust-${trust.key}.test` },
    keyEncryptionSecret: `e2e-secret-for-trust-${trust.key}-signing-key`,
    peers: { [peer.serverName]: `http://127.0.0.1:${peerWebPort}` },
    allowInsecurePeers: true,
    // Both trusts run on loopback; the partner may make first contact.
    allowLocalPeers: true,
    expectedPartners: [peer.serverName],
  };
}

/**
 * The whole stack for the browser tests: two trusts' real Synapses, PostgreSQL, and a Handover
 * for each serving the built portal. Tests read it with e2eInfo() (HANDOVER_E2E in the env).
 * Each trust has an admin and an auditor with roles and a nurse without one.
 */
export default async function globalSetup(): Promise<() => Promise<void>> {
  requireSystemPackages();
  execFileSync("npm", ["run", "build", "-w", "portal"], { stdio: ["ignore", "ignore", "inherit"] });
  const root = await buildSynapseRoot();
  const stack = await startStack({ trusts: ["a", "b"], root });
  const handovers: Handover[] = [];
  // The trusts' record system for EHR filing: a real FHIR server on loopback (docs/records.md).
  const fhir = await startFhirServer();
  // Trust A's ESR extract lands here (directory sync's watched CSV file): one person, in no rule's group.
  const esrDir = mkdtempSync(join(tmpdir(), "handover-e2e-esr-"));
  writeFileSync(join(esrDir, "esr.csv"), `${E2E_ESR_HEADER}\r\n9000001,Esr,Placeholder,esr.placeholder,Clerk,G1A,Records,RAA,2020-01-01,\r\n`);
  const stop = async () => {
    await Promise.allSettled(handovers.map((handover) => handover.stop()));
    await fhir.stop();
    await stack.stop();
    rmSync(esrDir, { recursive: true, force: true });
  };
  try {
    const trusts = {} as Record<"a" | "b", E2eTrust>;
    // Chosen up front: each trust's Handover is told where to reach the other's (federation).
    const webPorts = { a: await freePort(), b: 0 };
    webPorts.b = await freePortExcept([webPorts.a]);
    for (const key of ["a", "b"] as const) {
      const trust = stack.trusts[key];
      const admin = await TestUser.register(trust, "wardadmin", PASSWORD);
      const auditor = await TestUser.register(trust, "auditor", PASSWORD);
      const nurse = await TestUser.register(trust, "nurse", PASSWORD);
      const igLead = await TestUser.register(trust, "iglead", PASSWORD);
      const peer = stack.trusts[key === "a" ? "b" : "a"];
      const handover = await startHandover(trust, stack.databaseUrls[key], {
        roles: { [admin.userId]: "admin", [auditor.userId]: "auditor", [igLead.userId]: "ig-lead" },
        portalDir: resolve("portal/dist"),
        webPort: webPorts[key],
        federation: e2eFederationConfig(trust, peer, webPorts[key === "a" ? "b" : "a"]),
        records: { destination: "fhir", fhir: { baseUrl: fhir.baseUrl }, patientLookup: { auditKey: randomBytes(48).toString("base64url") } },
        // Encrypted rooms on, as a trust would run it: the overview shows the bot's device.
        e2ee: { stateKey: `e2e-state-key-${key}-0123456789abcdefghijklmnop` },
        // Directory sync on trust A, fed by SCIM as Entra ID would and by an ESR file (docs/directory.md).
        ...(key === "a"
          ? {
              directory: {
                schedule: "1h",
                exempt: [admin.userId],
                scim: { name: "entra", bearerToken: E2E_SCIM_TOKEN, syncDelay: "1s" },
                csv: [{ name: "esr", watch: { path: join(esrDir, "esr.csv"), interval: "1h" }, columns: { username: "Login" }, groups: ["{areaofwork}"] }],
              },
            }
          : {}),
      });
      handovers.push(handover);
      const roomId = await admin.createRoom(`Ward 9 handover (${key.toUpperCase()})`);
      await admin.invite(roomId, handover.botUserId);
      await eventually("the bot to join", async () => (await admin.members(roomId))[handover.botUserId] === "join");
      await eventually("Handover to record the room", async () => (await handover.rooms.get(roomId))?.botMembership === "join");
      trusts[key] = {
        serverName: trust.serverName,
        portalUrl: `http://127.0.0.1:${handover.webPort}`,
        clientUrl: trust.clientUrl,
        botUserId: handover.botUserId,
        roomId,
        admin: { userId: admin.userId, accessToken: admin.user.accessToken },
        auditor: { userId: auditor.userId },
        igLead: { userId: igLead.userId },
        nurse: { userId: nurse.userId, accessToken: nurse.user.accessToken },
        databaseUrl: stack.databaseUrls[key],
      };
    }
    const info: E2eInfo = { password: PASSWORD, trusts };
    process.env.HANDOVER_E2E = JSON.stringify(info);
  } catch (error) {
    await stop();
    throw error;
  }
  return stop;
}
