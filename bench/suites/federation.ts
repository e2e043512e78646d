import type { Handover } from "../../appservice/src/app.js";
import type { Agreement, EnforcementHealth } from "../../appservice/src/http/contract.js";
import { startPostgres } from "../../tests/harness/postgres.js";
import { startStack, type TrustInfo } from "../../tests/harness/stack.js";
import { freePort, freePortExcept } from "../../tests/harness/util.js";
import { federationConfig, PROPOSAL } from "../../tests/integration/federation-support.js";
import { startHandover } from "../../tests/support/handover-instance.js";
import { TestUser } from "../../tests/support/matrix-user.js";
import { PortalSession } from "../../tests/support/portal-session.js";
import { round, type SuiteResult } from "../figures.js";
import { synapseDatabase } from "../synapse-postgres.js";
import { type DirectTarget, sendDirectly, synapseStateEventLimit } from "./federation-baseline.js";

/** Managed rooms on each side (BENCH_FEDERATION_ROOMS for a quick try; the figure is named for 1000). */
const ROOMS = Number(process.env.BENCH_FEDERATION_ROOMS ?? 1000);
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

type Acls = EnforcementHealth["acls"];

/** Polls a Handover's enforcement health until a full ACL pass that started after `since` has confirmed every room. */
async function aclPassAfter(portal: PortalSession, since: number, rooms: number, timeoutMs: number): Promise<{ at: number; acls: Acls }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { body } = await portal.call<EnforcementHealth>("GET", "/federation/enforcement");
    const checked = body.acls.lastCheckAt ? Date.parse(body.acls.lastCheckAt) : 0;
    if (checked > since && body.acls.inSync >= rooms && body.acls.failed.length === 0) return { at: checked, acls: body.acls };
    if (Date.now() > deadline) throw new Error(`ACL pass not confirmed within ${timeoutMs / 1000} s: ${JSON.stringify(body.acls).slice(0, 500)}`);
    await sleep(100);
  }
}

async function auditedAt(portal: PortalSession, action: string): Promise<number> {
  const { body } = await portal.call<{ entries: { at: string }[] }>("GET", `/audit?action=${encodeURIComponent(action)}&limit=1`);
  const at = body.entries[0]?.at;
  if (!at) throw new Error(`no ${action} in the audit trail`);
  return Date.parse(at);
}

const passNote = (side: string, acls: Acls) =>
  acls.lastPass
    ? `${side}: ${acls.lastPass.written} written, up to ${acls.lastPass.peakConcurrency} calls in flight, read ${round(acls.lastPass.sweepMs.read / 1000, 2)} s, ` +
      `write ${round(acls.lastPass.sweepMs.write / 1000, 2)} s, read back ${round(acls.lastPass.sweepMs.readBack / 1000, 2)} s`
    : `${side}: no pass details`;

async function createManagedRooms(handover: Handover, trustKey: string): Promise<string[]> {
  const roomIds: string[] = [];
  await inParallel(
    Array.from({ length: ROOMS }, (_, i) => i),
    8,
    async (i) => {
      const name = `Bench ward ${trustKey.toUpperCase()}${i}`;
      const roomId = await handover.bot.createRoom({ name, preset: "private_chat" });
      await handover.rooms.upsert(roomId, { name, botMembership: "join" });
      roomIds.push(roomId);
    },
  );
  return roomIds;
}

const directTarget = (trust: TrustInfo, rooms: string[]): DirectTarget => ({
  clientUrl: trust.clientUrl,
  asToken: trust.registration.as_token,
  serverName: trust.serverName,
  rooms,
});

/**
 * Two real Synapses and two Handovers; each trust has 1,000 managed rooms (created by its bot
 * through the client-server API). Once an agreement is active, B revokes it: the figure is the time
 * from B's revocation request until both Handovers have written and read back the server ACL of
 * every one of their rooms (the partner no longer allowed). Each room's ACL is then checked
 * independently. Beside it, in the same run: Synapse's own limit, one m.room.server_acl sent to
 * every room of both homeservers straight through the client-server API, at the concurrency that
 * sends fastest, measured before the agreement and again after the revocation (the faster counts).
 */
export async function federation(): Promise<SuiteResult> {
  // Each Synapse on its own PostgreSQL database, as trusts run them (BENCH_FEDERATION_SYNAPSE_DB=sqlite
  // for the harness's default).
  const synapseServer = process.env.BENCH_FEDERATION_SYNAPSE_DB === "sqlite" ? null : await startPostgres();
  const synapseDatabases = synapseServer ? { a: synapseServer.url, b: await synapseServer.createDatabase() } : null;
  const stack = await startStack({
    trusts: ["a", "b"] as const,
    ...(synapseDatabases ? { extraSynapseConfig: (key: "a" | "b") => ({ database: synapseDatabase(synapseDatabases[key]) }) } : {}),
  });
  const handovers: Handover[] = [];
  const notes: string[] = [`federation: both Synapses ${synapseDatabases ? "on PostgreSQL" : "on SQLite"}`];
  try {
    const { a: trustA, b: trustB } = stack.trusts;
    const alice = await TestUser.register(trustA, `bench-alice-${Date.now()}`, PASSWORD);
    const bob = await TestUser.register(trustB, `bench-bob-${Date.now()}`, PASSWORD);
    const portA = await freePort();
    const portB = await freePortExcept([portA]);
    // A long interval: only the agreement changes themselves should update ACLs while measured.
    const handoverA = await startHandover(trustA, stack.databaseUrls.a, {
      webPort: portA,
      roles: { [alice.userId]: "admin" },
      federation: federationConfig(trustA, trustB, portB, "RAA", { aclSyncInterval: "1h" }),
    });
    handovers.push(handoverA);
    const handoverB = await startHandover(trustB, stack.databaseUrls.b, {
      webPort: portB,
      roles: { [bob.userId]: "admin" },
      federation: federationConfig(trustB, trustA, portA, "RBB", { aclSyncInterval: "1h" }),
    });
    handovers.push(handoverB);

    const createdAt = Date.now();
    const [roomsA, roomsB] = await Promise.all([createManagedRooms(handoverA, "a"), createManagedRooms(handoverB, "b")]);
    notes.push(`federation: ${ROOMS} rooms on each trust created in ${round((Date.now() - createdAt) / 1000)} s`);
    await Promise.all([handoverA.jobs.runNow("federation-acl-sync"), handoverB.jobs.runNow("federation-acl-sync")]);
    const targets = [directTarget(trustA, roomsA), directTarget(trustB, roomsB)];
    const before = await synapseStateEventLimit(targets, notes);

    const portalA = await PortalSession.signIn(handoverA.webPort, alice.userId, PASSWORD);
    const portalB = await PortalSession.signIn(handoverB.webPort, bob.userId, PASSWORD);
    const proposed = await portalA.call<Agreement>("POST", "/federation/agreements", { peerServerName: trustB.serverName, ...PROPOSAL });
    if (proposed.status !== 201) throw new Error(`proposal failed: ${JSON.stringify(proposed.body)}`);
    const acceptedAt = Date.now();
    await portalB.call<Agreement>("POST", `/federation/agreements/${proposed.body.id}/actions`, { action: "accept" });
    const granted = await Promise.all([aclPassAfter(portalA, acceptedAt, ROOMS, 600_000), aclPassAfter(portalB, acceptedAt, ROOMS, 600_000)]);

    const revokedAt = Date.now();
    const revoked = await portalB.call<Agreement>("POST", `/federation/agreements/${proposed.body.id}/actions`, { action: "revoke", reason: "bench" });
    if (revoked.body.status !== "revoked") throw new Error(`revocation failed: ${JSON.stringify(revoked.body)}`);
    const [confirmedA, confirmedB] = await Promise.all([aclPassAfter(portalA, revokedAt, ROOMS, 600_000), aclPassAfter(portalB, revokedAt, ROOMS, 600_000)]);
    const revokeSeconds = (Math.max(confirmedA.at, confirmedB.at) - revokedAt) / 1000;
    const receivedByA = await auditedAt(portalA, "federation.agreement.revoke");
    notes.push(
      `federation: revocation reached A's Handover ${round((receivedByA - revokedAt) / 1000, 2)} s after B's request; ` +
        `B confirmed its rooms at ${round((confirmedB.at - revokedAt) / 1000, 2)} s, A at ${round((confirmedA.at - revokedAt) / 1000, 2)} s`,
      `federation: revocation pass ${passNote("A", confirmedA.acls)}; ${passNote("B", confirmedB.acls)}`,
    );

    for (const [handover, roomIds, partner] of [
      [handoverA, roomsA, "trust-b.test"],
      [handoverB, roomsB, "trust-a.test"],
    ] as const) {
      let stillAllowing = 0;
      await inParallel(roomIds, 16, async (roomId) => {
        const acl = await handover.bot.stateContent(roomId, "m.room.server_acl");
        if (!acl || (acl.allow as string[]).includes(partner)) stillAllowing++;
      });
      if (stillAllowing > 0) throw new Error(`${stillAllowing} rooms still allow ${partner} after the revocation`);
    }
    notes.push(`federation: checked all ${2 * ROOMS} rooms' m.room.server_acl independently after the revocation`);

    const after = await sendDirectly(targets, before.concurrency);
    const synapseSeconds = Math.min(before.seconds, after);
    notes.push(
      `federation: Synapse alone, one m.room.server_acl in each of the ${2 * ROOMS} rooms (both homeservers at once, ${before.concurrency} in flight each): ` +
        `${round(before.seconds, 2)} s before the agreement, ${round(after, 2)} s after the revocation`,
    );
    return {
      figures: {
        "federation.revoke_1000_rooms_s": round(revokeSeconds, 2),
        "federation.grant_1000_rooms_s": round((Math.max(granted[0].at, granted[1].at) - acceptedAt) / 1000, 2),
        "federation.synapse_acl_1000_rooms_s": round(synapseSeconds, 2),
        "federation.synapse_best_concurrency": before.concurrency,
        "federation.revoke_vs_synapse_ratio": round(revokeSeconds / synapseSeconds, 2),
      },
      targets: [{ figure: "federation.revoke_1000_rooms_s", op: "<", value: 10 }],
      notes,
    };
  } finally {
    for (const handover of handovers.reverse()) await handover.stop().catch(() => undefined);
    await stack.stop();
    await synapseServer?.stop();
  }
}
