import { describe, expect, it } from "vitest";
import { FakeClock, RecordingAudit } from "../../testing/fakes.js";
import { transition } from "./agreement.js";
import { aclHost, FederationEnforcement, type ServerAcl } from "./enforcement.js";
import { MessageRejected, MessageVerifier } from "./message-verifier.js";
import { buildOrganisationDocument, signRotation, verifyOrganisationDocument } from "./organisation.js";
import type { VerifiedPeer } from "./ports.js";
import { Ed25519Key, type SignedMessage, signMessage, type UnsignedMessage } from "./signed-message.js";

const A = "trust-a.test:8481";
const B = "trust-b.test:8482";
const orgB = { serverName: B, name: "Trust B", odsCode: "RBB", contact: "fed@b.test" };

function peerWith(keys: Ed25519Key[]): VerifiedPeer {
  const current = keys.at(-1) as Ed25519Key;
  const byId = new Map(keys.map((k, i) => [k.keyId, { publicKey: k.publicKey, retiredAt: i === keys.length - 1 ? null : new Date("2026-11-22T08:00:00Z") }]));
  return {
    serverName: B,
    name: "Trust B",
    odsCode: "RBB",
    contact: "x",
    inboxUrl: "https://b/inbox",
    keys: { current: { keyId: current.keyId, publicKey: current.publicKey }, byId },
  };
}

function setup(seen = new Set<string>()) {
  const clock = new FakeClock();
  const key = Ed25519Key.generate("ed25519:b1");
  const verifier = new MessageVerifier({
    ownServerName: A,
    clock,
    peers: { lookup: async (server) => (server === B ? peerWith([key]) : Promise.reject(new Error("unknown server"))) },
    log: { seen: async (_from, id) => seen.has(id) },
    senders: { mayContact: async (server) => server === B },
    onLookupFailure: () => undefined,
    maxLifetimeMs: 86_400_000,
    clockSkewMs: 60_000,
  });
  const message = (overrides: Partial<UnsignedMessage> = {}): UnsignedMessage => ({
    id: "m1",
    type: "agreement.accept",
    from: B,
    to: A,
    issued_at: clock.now().toISOString(),
    expires_at: new Date(clock.now().getTime() + 600_000).toISOString(),
    key_id: key.keyId,
    agreement_id: "3c1d1b7e-5a55-4a44-9c5a-1d2f3e4a5b6c",
    payload: {},
    ...overrides,
  });
  const reason = (raw: unknown) =>
    verifier.verify(raw).then(
      () => "accepted",
      (error: unknown) => (error instanceof MessageRejected ? error.reason : String(error)),
    );
  return { clock, key, verifier, message, reason, seen };
}

describe("signed federation messages", () => {
  it("accepts a message signed by the sender's published key, whatever the key order", async () => {
    const { key, message, reason } = setup();
    const signed = signMessage(message(), key);
    const reordered = Object.fromEntries(Object.entries(signed).reverse());
    expect(await reason(reordered)).toBe("accepted");
  });

  it("refuses unsigned, forged, tampered, replayed, expired, future and misaddressed messages", async () => {
    const { key, message, reason, seen, clock } = setup(new Set(["seen-before"]));
    const { signature: _s, ...unsigned } = signMessage(message(), key);
    expect(await reason(unsigned)).toBe("malformed");
    expect(await reason(signMessage(message(), Ed25519Key.generate(key.keyId)))).toBe("bad_signature");
    expect(await reason({ ...signMessage(message(), key), type: "agreement.revoke" })).toBe("bad_signature");
    expect(await reason(signMessage(message({ id: "seen-before" }), key))).toBe("replayed");
    expect(seen.size).toBe(1);
    const past = new Date(clock.now().getTime() - 3_600_000);
    expect(await reason(signMessage(message({ issued_at: past.toISOString(), expires_at: new Date(past.getTime() + 60_000).toISOString() }), key))).toBe(
      "expired",
    );
    const future = new Date(clock.now().getTime() + 3_600_000);
    expect(await reason(signMessage(message({ issued_at: future.toISOString(), expires_at: new Date(future.getTime() + 60_000).toISOString() }), key))).toBe(
      "not_yet_valid",
    );
    expect(await reason(signMessage(message({ to: "trust-c.test" }), key))).toBe("wrong_addressee");
    expect(await reason(signMessage(message({ key_id: "ed25519:other" }), Ed25519Key.generate("ed25519:other")))).toBe("unknown_key");
    expect(await reason(signMessage(message({ from: "trust-c.test" }), key))).toBe("unexpected_sender");
    expect(await reason({ ...signMessage(message(), key), extra: 1 })).toBe("malformed");
    expect(await reason("not json object")).toBe("malformed");
  });
});

describe("organisation documents and key rotation", () => {
  it("trusts a new key only through a rotation signed by the pinned key", () => {
    const k1 = Ed25519Key.generate("ed25519:1");
    const k2 = Ed25519Key.generate("ed25519:2");
    const k3 = Ed25519Key.generate("ed25519:3");
    const at = new Date("2026-11-22T10:00:00Z");
    const rotations = [signRotation(B, k1, k2, at), signRotation(B, k2, k3, at)];
    const document = buildOrganisationDocument(orgB, "https://b/inbox", k3, rotations);
    const pinned = { keyId: k1.keyId, publicKey: k1.publicKey };
    const verified = verifyOrganisationDocument(JSON.parse(JSON.stringify(document)), B, pinned);
    expect(verified.ok && [...verified.keys.byId.keys()]).toEqual(["ed25519:1", "ed25519:2", "ed25519:3"]);
    // A rotation signed by someone else breaks the chain.
    const forged = buildOrganisationDocument(orgB, "https://b/inbox", k3, [signRotation(B, Ed25519Key.generate("ed25519:1"), k3, at)]);
    expect(verifyOrganisationDocument(forged, B, pinned)).toEqual({ ok: false, problem: "unverified_rotation" });
    expect(verifyOrganisationDocument(document, A, pinned)).toEqual({ ok: false, problem: "wrong_server" });
    expect(verifyOrganisationDocument({ ...document, name: "Evil" }, B, pinned)).toEqual({ ok: false, problem: "bad_signature" });
    expect(verifyOrganisationDocument(document, B, null).ok).toBe(true);
  });
});

describe("agreement state machine", () => {
  it("lets only the other side accept, only the suspender resume, and ends at revoked or declined", () => {
    expect(transition({ status: "proposed", proposedBy: "us", suspendedBy: null }, "accept", "us")).toMatchObject({ ok: false });
    expect(transition({ status: "proposed", proposedBy: "us", suspendedBy: null }, "accept", "peer")).toMatchObject({ ok: true, status: "active" });
    expect(transition({ status: "proposed", proposedBy: "peer", suspendedBy: null }, "decline", "us")).toMatchObject({ ok: true, status: "declined" });
    expect(transition({ status: "active", proposedBy: "us", suspendedBy: null }, "suspend", "peer")).toMatchObject({ ok: true, suspendedBy: "peer" });
    expect(transition({ status: "suspended", proposedBy: "us", suspendedBy: "peer" }, "resume", "us")).toMatchObject({ ok: false });
    expect(transition({ status: "suspended", proposedBy: "us", suspendedBy: "peer" }, "resume", "peer")).toMatchObject({ ok: true, status: "active" });
    expect(transition({ status: "revoked", proposedBy: "us", suspendedBy: null }, "revoke", "us")).toMatchObject({ ok: false });
    expect(transition({ status: "active", proposedBy: "us", suspendedBy: null }, "revoke", "peer")).toMatchObject({ ok: true, status: "revoked" });
  });
});

describe("enforcement", () => {
  const agreement = (status: "active" | "revoked", scope: { kind: "all" } | { kind: "spaces"; spaces: string[] }) => ({
    id: "ag1",
    peer: orgB,
    proposedBy: "us" as const,
    status,
    terms: { scope, purpose: "stroke", reviewDate: "2027-01-01", retention: "own policy" },
    createdAt: new Date(),
    updatedAt: new Date(),
    statusChangedBy: null,
    reason: null,
    suspendedBy: null,
  });

  function enforcementWith(agreements: ReturnType<typeof agreement>[], members: Record<string, string[]> = {}) {
    const acls = new Map<string, ServerAcl>();
    const kicked: string[] = [];
    const audit = new RecordingAudit();
    const enforcement = new FederationEnforcement({
      ownServerName: A,
      agreements: { list: async () => agreements },
      rooms: { managedRoomIds: async () => ["!r1:trust-a.test:8481", "!r2:trust-a.test:8481"] },
      acl: { readAcl: async (roomId) => acls.get(roomId) ?? null, writeAcl: async (roomId, acl) => void acls.set(roomId, acl) },
      members: { members: async (roomId) => members[roomId] ?? [], kick: async (roomId, userId) => void kicked.push(`${roomId} ${userId}`) },
      spaces: { children: async (spaceId) => (spaceId === "!space:trust-a.test:8481" ? ["!r2:trust-a.test:8481"] : []) },
      audit,
      clock: new FakeClock(),
      concurrency: { initial: 2, min: 1, max: 4, tolerance: 2 },
      retryDelaysMs: [],
      sleep: async () => undefined,
      roomAcls: true,
    });
    return { enforcement, acls, kicked, audit };
  }

  it("allows own server plus partners in scope, by host name, and confirms each write", async () => {
    expect(aclHost("trust-b.test:8482")).toBe("trust-b.test");
    const { enforcement, acls } = enforcementWith([agreement("active", { kind: "spaces", spaces: ["!space:trust-a.test:8481"] })]);
    const status = await enforcement.sync();
    expect(status).toMatchObject({ managedRooms: 2, inSync: 2, failed: [] });
    expect(acls.get("!r1:trust-a.test:8481")?.allow).toEqual(["trust-a.test", A]);
    expect(acls.get("!r2:trust-a.test:8481")?.allow).toEqual(["trust-a.test", A, "trust-b.test", B]);
    expect(await enforcement.syncRoom("!r2:trust-a.test:8481", [B])).toBe("unchanged");
  });

  it("on revocation removes the partner's users from managed rooms and audits it with the message id", async () => {
    const revoked = agreement("revoked", { kind: "all" });
    const { enforcement, kicked, audit, acls } = enforcementWith([revoked], {
      "!r1:trust-a.test:8481": ["@bea:trust-b.test:8482", "@alice:trust-a.test:8481", "@eve:trust-b.test:9999"],
    });
    await enforcement.agreementsChanged({ agreement: revoked, previousStatus: "active", message: { id: "msg-1" } as SignedMessage });
    expect(kicked).toEqual(["!r1:trust-a.test:8481 @bea:trust-b.test:8482"]);
    expect(audit.events.find((e) => e.action === "federation.members.removed")).toMatchObject({
      action: "federation.members.removed",
      details: { messageId: "msg-1", userIds: ["@bea:trust-b.test:8482"] },
    });
    expect(acls.get("!r1:trust-a.test:8481")?.allow).toEqual(["trust-a.test", A]);
    expect(await enforcement.allowedServers()).toEqual([]);
  });
});
