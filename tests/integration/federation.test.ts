import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { Handover } from "../../appservice/src/app.js";
import { Ed25519Key, type SignedMessage, signMessage, type UnsignedMessage } from "../../appservice/src/domain/federation/signed-message.js";
import type { Agreement, AgreementDetail, AgreementList, EnforcementHealth, WhitelistSnippet } from "../../appservice/src/http/contract.js";
import { createDataSource } from "../../appservice/src/storage/data-source.js";
import { PostgresSigningKeyStore } from "../../appservice/src/storage/federation-key-store.js";
import { freePort } from "../harness/util.js";
import { freshDatabase } from "../support/fresh-database.js";
import { startHandover } from "../support/handover-instance.js";
import { eventually, TestUser } from "../support/matrix-user.js";
import { PortalSession } from "../support/portal-session.js";
import { federationConfig, PROPOSAL } from "./federation-support.js";

const stack = inject("stack");
const { a: trustA, b: trustB } = stack.trusts;
const databaseUrlA = await freshDatabase(stack.databaseUrls.a, "federation_a");
const databaseUrlB = await freshDatabase(stack.databaseUrls.b, "federation_b");
const PASSWORD = "federation-test-password";
const stamp = Date.now().toString(36);

let handoverA: Handover;
let handoverB: Handover;
let alice: TestUser; // admin on A, owns the clinical room
let bob: TestUser; // admin on B
let bea: TestUser; // a registrar on B
let portalA: PortalSession;
let portalB: PortalSession;
let clinicalRoom: string;

const inbox = (handover: Handover) => `http://127.0.0.1:${handover.webPort}/_handover/federation/v1/inbox`;
const acl = (roomId: string) => alice.state<{ allow: string[] }>(roomId, "m.room.server_acl");
const refused = (promise: Promise<unknown>) =>
  promise.then(
    () => false,
    (error: unknown) => /M_FORBIDDEN|403|agreement/i.test(String(error)),
  );

async function post(url: string, body: unknown): Promise<{ status: number; reason?: string }> {
  const response = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  const answer = (await response.json()) as { reason?: string };
  return { status: response.status, ...(answer.reason ? { reason: answer.reason } : {}) };
}

beforeAll(async () => {
  alice = await TestUser.register(trustA, `alice-fed-${stamp}`, PASSWORD);
  bob = await TestUser.register(trustB, `bob-fed-${stamp}`, PASSWORD);
  bea = await TestUser.register(trustB, `bea-fed-${stamp}`, PASSWORD);
  const [portA, portB] = [await freePort(), await freePort()];
  handoverA = await startHandover(trustA, databaseUrlA, {
    webPort: portA,
    roles: { [alice.userId]: "admin" },
    federation: federationConfig(trustA, trustB, portB, "RAA"),
  });
  handoverB = await startHandover(trustB, databaseUrlB, {
    webPort: portB,
    roles: { [bob.userId]: "admin" },
    federation: federationConfig(trustB, trustA, portA, "RBB"),
  });
  portalA = await PortalSession.signIn(handoverA.webPort, alice.userId, PASSWORD);
  portalB = await PortalSession.signIn(handoverB.webPort, bob.userId, PASSWORD);
  clinicalRoom = await alice.createRoom("Stroke thrombolysis (clinical)");
  await alice.invite(clinicalRoom, handoverA.botUserId);
  await eventually("the bot to join A's room", async () => (await alice.members(clinicalRoom))[handoverA.botUserId] === "join");
});

afterAll(async () => {
  await handoverA?.stop();
  await handoverB?.stop();
});

/**
 * Joins a room hosted on another homeserver by its ID. Synapse with workers creates events of one
 * room in more than one process, so a room can fork (two latest events) when the bot's ACL write
 * and a member's invite land at once; a join built on such a fork can be refused ("duplicate
 * auth_events" for the joiner's membership) until the room's next event joins the branches. A
 * person in a real room sends that event soon enough; here the host's member does, then the join
 * is tried again.
 */
async function joinAcross(joiner: TestUser, host: TestUser, roomId: string, hostServer: string): Promise<void> {
  try {
    await joiner.request("POST", `/join/${encodeURIComponent(roomId)}?server_name=${encodeURIComponent(hostServer)}`, {});
  } catch (error) {
    if (String(error).includes("duplicate auth_events")) await host.send(roomId, "(joining the room's branches)");
    throw error;
  }
}

describe("federation agreements between two trusts", () => {
  it("publishes each trust's organisation and signing key", async () => {
    const response = await fetch(`http://127.0.0.1:${handoverA.webPort}/.well-known/handover/organisation`);
    const document = (await response.json()) as { server_name: string; ods_code: string; current_key: { key_id: string; public_key: string } };
    expect(document.server_name).toBe(trustA.serverName);
    expect(document.ods_code).toBe("RAA");
    expect(Buffer.from(document.current_key.public_key, "base64")).toHaveLength(32);
  });

  it("without an agreement, the room is closed to trust B and invites are refused both ways", async () => {
    await eventually(
      "A's room to carry a server ACL of A only",
      async () => (await acl(clinicalRoom).catch(() => null))?.allow.join() === ["trust-a.test", trustA.serverName].join(),
    );
    expect(await refused(alice.invite(clinicalRoom, bea.userId))).toBe(true);
    const roomOnB = await bea.createRoom("B's ward room");
    expect(await refused(bea.invite(roomOnB, alice.userId))).toBe(true);
  });

  let agreementId: string;

  it("A proposes, B accepts in its own portal, and then users of B can be invited and talk", async () => {
    const proposed = await portalA.call<Agreement>("POST", "/federation/agreements", { peerServerName: trustB.serverName, ...PROPOSAL });
    expect(proposed.status).toBe(201);
    expect(proposed.body).toMatchObject({ status: "proposed", proposedBy: "us", undelivered: 0, peer: { odsCode: "RBB" } });
    agreementId = proposed.body.id;
    const inboxB = await portalB.call<AgreementList>("GET", "/federation/agreements");
    expect(inboxB.body.agreements.find((a) => a.id === agreementId)).toMatchObject({ status: "proposed", proposedBy: "peer", peer: { odsCode: "RAA" } });
    // Only the side that did not propose may accept.
    expect((await portalA.call("POST", `/federation/agreements/${agreementId}/actions`, { action: "accept" })).status).toBe(409);
    const accepted = await portalB.call<Agreement>("POST", `/federation/agreements/${agreementId}/actions`, { action: "accept" });
    expect(accepted.body.status).toBe("active");
    await eventually(
      "A to see the agreement active",
      async () => (await portalA.call<AgreementDetail>("GET", `/federation/agreements/${agreementId}`)).body.agreement.status === "active",
    );
    await eventually("A's room ACL to allow trust B", async () => (await acl(clinicalRoom)).allow.includes("trust-b.test"));
    // The module caches the allowed servers for 2 s in tests.
    await eventually("the invite to be let through", async () => alice.invite(clinicalRoom, bea.userId).then(() => true));
    await eventually("bea to join A's room", async () => {
      // Name A's server: a join by room ID needs one when the invite has not reached B yet.
      await joinAcross(bea, alice, clinicalRoom, trustA.serverName);
      return true;
    });
    await bea.send(clinicalRoom, "Patient arrived in ED, CT booked");
    await eventually("bea's message to reach A", async () => (await alice.messages(clinicalRoom)).some((m) => m.sender === bea.userId));
    const history = (await portalA.call<AgreementDetail>("GET", `/federation/agreements/${agreementId}`)).body.history;
    expect(history.map((h) => `${h.direction} ${h.type}`)).toEqual(["sent agreement.propose", "received agreement.accept"]);
    const whitelist = await portalA.call<WhitelistSnippet>("GET", "/federation/whitelist");
    expect(whitelist.body.servers).toEqual([trustA.serverName, trustB.serverName]);
  });

  it("refuses forged, unsigned, replayed, expired and wrongly addressed messages and changes nothing", async () => {
    const before = (await portalA.call<AgreementList>("GET", "/federation/agreements")).body;
    const accept = (await portalA.call<AgreementDetail>("GET", `/federation/agreements/${agreementId}`)).body.history[1]?.signed as unknown as SignedMessage;
    expect((await post(inbox(handoverA), accept)).reason).toBe("replayed");
    // B's real signing key, read from B's database, signs the otherwise-bad messages.
    const db = createDataSource(databaseUrlB, 1);
    await db.initialize();
    const [stored] = (await new PostgresSigningKeyStore(db, federationConfig(trustB, trustA, 0, "RBB").keyEncryptionSecret).all()).slice(-1);
    await db.destroy();
    const keyB = stored?.key as Ed25519Key;
    const now = Date.now();
    const base: UnsignedMessage = {
      id: randomUUID(),
      type: "agreement.suspend",
      from: trustB.serverName,
      to: trustA.serverName,
      issued_at: new Date(now).toISOString(),
      expires_at: new Date(now + 600_000).toISOString(),
      key_id: keyB.keyId,
      agreement_id: agreementId,
      payload: {},
    };
    const { signature: _unsigned, ...unsigned } = signMessage(base, keyB);
    expect((await post(inbox(handoverA), unsigned)).reason).toBe("malformed");
    const forger = Ed25519Key.generate(keyB.keyId);
    expect((await post(inbox(handoverA), signMessage({ ...base, id: randomUUID() }, forger))).reason).toBe("bad_signature");
    const tampered = { ...signMessage({ ...base, id: randomUUID() }, keyB), type: "agreement.revoke" };
    expect((await post(inbox(handoverA), tampered)).reason).toBe("bad_signature");
    const expired = signMessage(
      { ...base, id: randomUUID(), issued_at: new Date(now - 7_200_000).toISOString(), expires_at: new Date(now - 3_600_000).toISOString() },
      keyB,
    );
    expect((await post(inbox(handoverA), expired)).reason).toBe("expired");
    const misaddressed = signMessage({ ...base, id: randomUUID(), to: "trust-c.test:8483" }, keyB);
    expect((await post(inbox(handoverA), misaddressed)).reason).toBe("wrong_addressee");
    const spoofedSender = signMessage({ ...base, id: randomUUID(), from: "trust-c.test:8483" }, forger);
    expect((await post(inbox(handoverA), spoofedSender)).status).toBeGreaterThanOrEqual(400);
    expect((await portalA.call<AgreementList>("GET", "/federation/agreements")).body).toEqual(before);
    // A genuine message with a fresh id still gets through afterwards (then undo it).
    const valid = signMessage({ ...base, id: randomUUID() }, keyB);
    expect((await post(inbox(handoverA), valid)).status).toBe(200);
    expect((await post(inbox(handoverA), valid)).reason).toBe("replayed");
    const resume = signMessage({ ...base, id: randomUUID(), type: "agreement.resume" }, keyB);
    expect((await post(inbox(handoverA), resume)).status).toBe(200);
  });

  it("B revokes: within 60 s B's users are out of A's room, the ACL shuts B out and invites are refused again", async () => {
    await eventually(
      "A to see the agreement active again",
      async () => (await portalA.call<AgreementDetail>("GET", `/federation/agreements/${agreementId}`)).body.agreement.status === "active",
    );
    // The suspension removed bea from the room; with the agreement resumed she can come back.
    await eventually("bea to be removed by the suspension", async () => (await alice.members(clinicalRoom))[bea.userId] === "leave");
    await eventually("bea to be invited again", async () => alice.invite(clinicalRoom, bea.userId).then(() => true));
    await eventually("bea to rejoin A's room", async () => {
      // Name A's server: a join by room ID needs one when the invite has not reached B yet.
      await joinAcross(bea, alice, clinicalRoom, trustA.serverName);
      return (await alice.members(clinicalRoom))[bea.userId] === "join";
    });
    // A direct chat hosted on B that neither Handover manages, working while the agreement holds.
    const chat = await bea.createRoom("bea and alice");
    await bea.invite(chat, alice.userId);
    await eventually("alice to join bea's chat", async () => {
      await alice.request("POST", `/join/${encodeURIComponent(chat)}?server_name=${encodeURIComponent(trustB.serverName)}`, {});
      return true;
    });
    await bea.send(chat, "Before the revocation");
    await eventually("bea's chat message to reach A", async () => (await alice.messages(chat)).some((m) => m.content.body === "Before the revocation"));

    const revoked = await portalB.call<Agreement>("POST", `/federation/agreements/${agreementId}/actions`, { action: "revoke", reason: "Network dissolved" });
    expect(revoked.body.status).toBe("revoked");
    const started = Date.now();
    await eventually("bea to be removed from A's room", async () => (await alice.members(clinicalRoom))[bea.userId] === "leave", 60_000);
    await eventually("A's ACL to drop trust B", async () => !(await acl(clinicalRoom)).allow.includes("trust-b.test"), 60_000);
    await eventually("the module to refuse the invite again", async () => refused(alice.invite(clinicalRoom, bea.userId)), 60_000);
    expect(Date.now() - started).toBeLessThan(60_000);
    // Events from B are dropped on arrival at A in rooms Handover does not manage too, once A's
    // module has asked Handover again (its cache lasts 2 s in tests, cache_ttl_seconds).
    await eventually(
      "A's Handover to allow no other server",
      async () => (await portalA.call<EnforcementHealth>("GET", "/federation/enforcement")).body.allowedServers.length === 0,
    );
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    await bea.send(chat, "After the revocation");
    await eventually("bea to see her own message", async () => (await bea.messages(chat)).some((m) => m.content.body === "After the revocation"));
    await new Promise((resolve) => setTimeout(resolve, 5_000));
    expect((await alice.messages(chat)).map((m) => m.content.body)).not.toContain("After the revocation");
    const detail = (await portalA.call<AgreementDetail>("GET", `/federation/agreements/${agreementId}`)).body;
    expect(detail.agreement).toMatchObject({ status: "revoked", reason: "Network dissolved" });
    const audit = await portalA.call<{ entries: { action: string; details: Record<string, unknown> }[] }>("GET", "/audit?action=federation.agreement.revoke");
    const signed = audit.body.entries[0]?.details.signedMessage as SignedMessage | undefined;
    expect(signed?.type).toBe("agreement.revoke");
    expect(signed?.signature).toBeTruthy();
    const health = (await portalA.call<EnforcementHealth>("GET", "/federation/enforcement")).body;
    expect(health).toMatchObject({ configured: true, allowedServers: [], module: { reachable: true } });
    // Revoked is final: nothing more can be done with it.
    expect((await portalA.call("POST", `/federation/agreements/${agreementId}/actions`, { action: "resume" })).status).toBe(409);
  });
});
