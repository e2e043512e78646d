import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { FakeClock, RecordingAudit } from "../../testing/fakes.js";
import { MemoryAgreementStore, MemoryMessageLog, RecordingAgreementListener } from "../../testing/federation-fakes.js";
import { HandoverError } from "../errors.js";
import { AgreementService } from "./agreement-service.js";
import { MessageRejected, MessageVerifier } from "./message-verifier.js";
import type { VerifiedPeer } from "./ports.js";
import { Ed25519Key, type SignedMessage, signMessage } from "./signed-message.js";

const A = "trust-a.test";
const B = "trust-b.test";
const HOUR = 3_600_000;
const TERMS = {
  scope: { kind: "all" as const },
  purpose: "Regional stroke network handovers",
  reviewDate: "2027-11-22",
  retention: "Each trust files under its own records policy",
};

interface Trust {
  serverName: string;
  key: Ed25519Key;
  service: AgreementService;
  agreements: MemoryAgreementStore;
  log: MemoryMessageLog;
  audit: RecordingAudit;
  listener: RecordingAgreementListener;
}

/**
 * Two trusts, each with its own AgreementService and MessageVerifier, joined by an in-memory
 * network: a delivery is the partner's `receive`, and a trust can be made unreachable.
 */
function twoTrusts() {
  const clock = new FakeClock();
  const trusts = new Map<string, Trust>();
  const unreachable = new Set<string>();
  const delivered: SignedMessage[] = [];
  const peerOf = (serverName: string): VerifiedPeer => {
    const trust = trusts.get(serverName);
    if (!trust) throw new HandoverError("PEER_UNAVAILABLE", `no such trust ${serverName}`);
    const { keyId, publicKey } = trust.key;
    return {
      serverName,
      name: `Trust ${serverName}`,
      odsCode: serverName === A ? "RAA" : "RBB",
      contact: `federation@${serverName}`,
      inboxUrl: `inbox:${serverName}`,
      keys: { current: { keyId, publicKey }, byId: new Map([[keyId, { publicKey, retiredAt: null }]]) },
    };
  };
  const trust = (serverName: string, partner: string): Trust => {
    const key = Ed25519Key.generate(`ed25519:${serverName}`);
    const agreements = new MemoryAgreementStore();
    const log = new MemoryMessageLog();
    const audit = new RecordingAudit();
    const listener = new RecordingAgreementListener();
    const peers = { lookup: async (server: string) => peerOf(server) };
    const verifier = new MessageVerifier({
      ownServerName: serverName,
      clock,
      peers,
      log,
      senders: { mayContact: async (server) => server === partner },
      onLookupFailure: () => {},
      maxLifetimeMs: 24 * HOUR,
      clockSkewMs: 60_000,
    });
    const service = new AgreementService({
      ownServerName: serverName,
      agreements,
      log,
      peers,
      transport: {
        deliver: async (inboxUrl, message) => {
          const to = inboxUrl.slice("inbox:".length);
          if (unreachable.has(to)) throw new Error(`connect ECONNREFUSED ${to}`);
          delivered.push(message);
          await (trusts.get(to) as Trust).service.receive(message);
        },
      },
      keys: { current: async () => key },
      verifier,
      audit,
      clock,
      listener,
      onEnforcementError: () => {},
      newId: randomUUID,
      messageLifetimeMs: HOUR,
    });
    return { serverName, key, service, agreements, log, audit, listener };
  };
  const a = trust(A, B);
  const b = trust(B, A);
  trusts.set(A, a);
  trusts.set(B, b);
  const statuses = async (id: string) => [(await a.agreements.get(id))?.status, (await b.agreements.get(id))?.status];
  const idle = () => Promise.all([a.service.idle(), b.service.idle()]);
  /** A message as trust B would sign it, for what B's own service would never send. */
  const fromB = (fields: Partial<SignedMessage>): SignedMessage =>
    signMessage(
      {
        id: randomUUID(),
        type: "agreement.accept",
        from: B,
        to: A,
        issued_at: clock.now().toISOString(),
        expires_at: new Date(clock.now().getTime() + HOUR).toISOString(),
        key_id: b.key.keyId,
        agreement_id: randomUUID(),
        payload: {},
        ...fields,
      },
      b.key,
    );
  return { clock, a, b, unreachable, delivered, statuses, idle, fromB };
}

async function rejection(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => null,
    (caught: unknown) => caught,
  );
  if (error instanceof MessageRejected) return error.reason;
  if (error instanceof HandoverError) return error.code;
  throw new Error(`expected a refusal, got ${String(error)}`);
}

describe("federation agreements between two trusts", () => {
  it("become active on both sides only when the partner accepts: the proposer cannot accept its own proposal", async () => {
    const { a, b, statuses, idle } = twoTrusts();
    const proposed = await a.service.propose("@alice:trust-a.test", B, TERMS);
    expect(await statuses(proposed.id)).toEqual(["proposed", "proposed"]);
    expect(await b.agreements.get(proposed.id)).toMatchObject({ proposedBy: "peer", terms: TERMS, statusChangedBy: `peer:${A}` });

    expect(await rejection(a.service.act("@alice:trust-a.test", proposed.id, "accept", undefined))).toBe("CONFLICT");
    expect(await statuses(proposed.id)).toEqual(["proposed", "proposed"]);

    await b.service.act("@bob:trust-b.test", proposed.id, "accept", undefined);
    await idle();
    expect(await statuses(proposed.id)).toEqual(["active", "active"]);
    expect(a.listener.changes).toEqual([{ agreementId: proposed.id, from: "proposed", to: "active" }]);
    expect(b.listener.changes).toEqual([{ agreementId: proposed.id, from: "proposed", to: "active" }]);
    expect(a.audit.events.map((event) => [event.action, event.actor])).toEqual([
      ["federation.agreement.proposed", "@alice:trust-a.test"],
      ["federation.agreement.accept", `peer:${B}`],
    ]);
  });

  it("a declined proposal never becomes active", async () => {
    const { a, b, statuses } = twoTrusts();
    const proposed = await a.service.propose("@alice:trust-a.test", B, TERMS);
    await b.service.act("@bob:trust-b.test", proposed.id, "decline", "Not this year");
    expect(await statuses(proposed.id)).toEqual(["declined", "declined"]);
    expect(await rejection(b.service.act("@bob:trust-b.test", proposed.id, "accept", undefined))).toBe("CONFLICT");
    expect((await a.agreements.get(proposed.id))?.reason).toBe("Not this year");
  });

  it("revocation by either side ends the agreement on both, tells enforcement that access was lost, and cannot be undone", async () => {
    const { a, b, statuses, idle } = twoTrusts();
    const { id } = await a.service.propose("@alice:trust-a.test", B, TERMS);
    await b.service.act("@bob:trust-b.test", id, "accept", undefined);
    await b.service.act("@bob:trust-b.test", id, "revoke", "Network closed");
    await idle();
    expect(await statuses(id)).toEqual(["revoked", "revoked"]);
    expect(a.listener.changes.at(-1)).toEqual({ agreementId: id, from: "active", to: "revoked" });
    expect(b.listener.changes.at(-1)).toEqual({ agreementId: id, from: "active", to: "revoked" });
    expect(await rejection(a.service.act("@alice:trust-a.test", id, "resume", undefined))).toBe("CONFLICT");
    expect(await rejection(a.service.act("@alice:trust-a.test", id, "revoke", undefined))).toBe("CONFLICT");
    expect(await statuses(id)).toEqual(["revoked", "revoked"]);
  });

  it("only the side that suspended an agreement may resume it", async () => {
    const { a, b, statuses } = twoTrusts();
    const { id } = await a.service.propose("@alice:trust-a.test", B, TERMS);
    await b.service.act("@bob:trust-b.test", id, "accept", undefined);
    await b.service.act("@bob:trust-b.test", id, "suspend", "Incident review");
    expect(await statuses(id)).toEqual(["suspended", "suspended"]);
    expect(await rejection(a.service.act("@alice:trust-a.test", id, "resume", undefined))).toBe("CONFLICT");
    await b.service.act("@bob:trust-b.test", id, "resume", undefined);
    expect(await statuses(id)).toEqual(["active", "active"]);
  });

  it("refuses a replayed message, a message about another trust's agreement and a proposal with malformed terms, changing nothing", async () => {
    const { a, b, delivered, statuses, fromB } = twoTrusts();
    const { id } = await a.service.propose("@alice:trust-a.test", B, TERMS);
    await b.service.act("@bob:trust-b.test", id, "accept", undefined);
    await b.service.act("@bob:trust-b.test", id, "suspend", undefined);
    await b.service.act("@bob:trust-b.test", id, "resume", undefined);
    const suspend = delivered.find((message) => message.type === "agreement.suspend") as SignedMessage;

    expect(await rejection(a.service.receive(suspend))).toBe("replayed");
    expect(await rejection(a.service.receive(fromB({ type: "agreement.revoke" })))).toBe("unknown_agreement");
    expect(
      await rejection(a.service.receive(fromB({ type: "agreement.propose", payload: { terms: { ...TERMS, scope: { kind: "spaces", spaces: [] } } } }))),
    ).toBe("malformed");
    expect(await statuses(id)).toEqual(["active", "active"]);
    expect(a.agreements.rows.size).toBe(1);
  });

  it("refuses an agreement with itself and a second open agreement with the same partner", async () => {
    const { a } = twoTrusts();
    expect(await rejection(a.service.propose("@alice:trust-a.test", A, TERMS))).toBe("VALIDATION_FAILED");
    await a.service.propose("@alice:trust-a.test", B, TERMS);
    expect(await rejection(a.service.propose("@alice:trust-a.test", B, TERMS))).toBe("CONFLICT");
    expect(a.agreements.rows.size).toBe(1);
  });

  it("keeps a message the partner could not receive and delivers it later, re-issued under a new id once it has expired", async () => {
    const { a, b, clock, unreachable } = twoTrusts();
    unreachable.add(B);
    const { id } = await a.service.propose("@alice:trust-a.test", B, TERMS);
    expect(a.audit.events[0]?.details).toMatchObject({ delivered: false });
    expect(await a.service.redeliver()).toEqual({ delivered: 0, failed: 1 });
    expect(b.agreements.rows.size).toBe(0);

    unreachable.delete(B);
    clock.advance(2 * HOUR);
    expect(await a.service.redeliver()).toEqual({ delivered: 1, failed: 0 });
    expect((await b.agreements.get(id))?.status).toBe("proposed");
    const [original, reissued] = a.log.messages.filter((entry) => entry.direction === "sent");
    expect(original?.supersededBy).toBe(reissued?.message.id);
    expect(b.log.messages.map((entry) => entry.message.id)).toEqual([reissued?.message.id]);
    expect(await a.service.redeliver()).toEqual({ delivered: 0, failed: 0 });
  });
});
