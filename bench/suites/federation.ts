import type { Handover } from "../../appservice/src/app.js";
import type { Agreement, EnforcementHealth } from "../../appservice/src/http/contract.js";
import { startStack } from "../../tests/harness/stack.js";
import { freePort, freePortExcept } from "../../tests/harness/util.js";
import { federationConfig, PROPOSAL } from "../../tests/integration/federation-support.js";
import { startHandover } from "../../tests/support/handover-instance.js";
import { TestUser } from "../../tests/support/matrix-user.js";
import { PortalSession } from "../../tests/support/portal-session.js";
import { round, type SuiteResult } from "../figures.js";

const ROOMS = 1000;
const PASSWORD = "bench-federation-password";
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function inParallel<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) await work(items[next++] as T);
    }),
  );
}

/** Polls A's enforcement health until a full ACL pass that started after `since` has confirmed every room. */
async function aclPassAfter(portal: PortalSession, since: number, rooms: number, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { body } = await portal.call<EnforcementHealth>("GET", "/federation/enforcement");
    const checked = body.acls.lastCheckAt ? Date.parse(body.acls.lastCheckAt) : 0;
    if (checked > since && body.acls.inSync >= rooms && body.acls.failed.length === 0) return checked;
    if (Date.now() > deadline) throw new Error(`ACL pass not confirmed within ${timeoutMs / 1000} s: ${JSON.stringify(body.acls).slice(0, 500)}`);
    await sleep(100);
  }
}

/**
 * Two real Synapses and two Handovers. Trust A has 1,000 managed rooms (created by the bot through
 * the client-server API). Once an agreement with B is active, B revokes it: the figure is the time
 * from the revocation request to A's Handover having written and read back the server ACL of
 * every room (B's server no longer allowed). Afterwards every room's ACL is checked independently.
 */
export async function federation(): Promise<SuiteResult> {
  const stack = await startStack({ trusts: ["a", "b"] as const });
  const handovers: Handover[] = [];
  const notes: string[] = [];
  try {
    const { a: trustA, b: trustB } = stack.trusts;
    const alice = await TestUser.register(trustA, `bench-alice-${Date.now()}`, PASSWORD);
    const bob = await TestUser.register(trustB, `bench-bob-${Date.now()}`, PASSWORD);
    const portA = await freePort();
    const portB = await freePortExcept([portA]);
    // A long interval: only the revocation itself should update ACLs while it is measured.
    const handoverA = await startHandover(trustA, stack.databaseUrls.a, {
      webPort: portA,
      roles: { [alice.userId]: "admin" },
      federation: federationConfig(trustA, trustB, portB, "RAA", { aclSyncInterval: "1h" }),
    });
    handovers.push(handoverA);
    const handoverB = await startHandover(trustB, stack.databaseUrls.b, {
      webPort: portB,
      roles: { [bob.userId]: "admin" },
      federation: federationConfig(trustB, trustA, portA, "RBB"),
    });
    handovers.push(handoverB);

    const createdAt = Date.now();
    const roomIds: string[] = [];
    await inParallel(
      Array.from({ length: ROOMS }, (_, i) => i),
      8,
      async (i) => {
        const roomId = await handoverA.bot.createRoom({ name: `Bench ward ${i}`, preset: "private_chat" });
        await handoverA.rooms.upsert(roomId, { name: `Bench ward ${i}`, botMembership: "join" });
        roomIds.push(roomId);
      },
    );
    notes.push(`federation: ${ROOMS} rooms created in ${round((Date.now() - createdAt) / 1000)} s`);
    await handoverA.jobs.runNow("federation-acl-sync");

    const portalA = await PortalSession.signIn(handoverA.webPort, alice.userId, PASSWORD);
    const portalB = await PortalSession.signIn(handoverB.webPort, bob.userId, PASSWORD);
    const proposed = await portalA.call<Agreement>("POST", "/federation/agreements", { peerServerName: trustB.serverName, ...PROPOSAL });
    if (proposed.status !== 201) throw new Error(`proposal failed: ${JSON.stringify(proposed.body)}`);
    const acceptedAt = Date.now();
    await portalB.call<Agreement>("POST", `/federation/agreements/${proposed.body.id}/actions`, { action: "accept" });
    const granted = await aclPassAfter(portalA, acceptedAt, ROOMS, 300_000);

    const revokedAt = Date.now();
    const revoked = await portalB.call<Agreement>("POST", `/federation/agreements/${proposed.body.id}/actions`, { action: "revoke", reason: "bench" });
    if (revoked.body.status !== "revoked") throw new Error(`revocation failed: ${JSON.stringify(revoked.body)}`);
    const confirmed = await aclPassAfter(portalA, revokedAt, ROOMS, 300_000);

    let stillAllowing = 0;
    await inParallel(roomIds, 16, async (roomId) => {
      const acl = await handoverA.bot.stateContent(roomId, "m.room.server_acl");
      if (!acl || (acl.allow as string[]).includes("trust-b.test")) stillAllowing++;
    });
    if (stillAllowing > 0) throw new Error(`${stillAllowing} rooms still allow trust B after the revocation`);
    notes.push(`federation: checked all ${ROOMS} rooms' m.room.server_acl independently after the revocation`);
    return {
      figures: {
        "federation.revoke_1000_rooms_s": round((confirmed - revokedAt) / 1000, 2),
        "federation.grant_1000_rooms_s": round((granted - acceptedAt) / 1000, 2),
      },
      targets: [{ figure: "federation.revoke_1000_rooms_s", op: "<", value: 60 }],
      notes,
    };
  } finally {
    for (const handover of handovers.reverse()) await handover.stop().catch(() => undefined);
    await stack.stop();
  }
}
