import { describe, expect, it } from "vitest";
import { FakeClock, RecordingAudit } from "../../testing/fakes.js";
import type { AgreementRecord } from "./agreement.js";
import { ExpectedPartnerList, isServerName, matchesPartnerPattern, SenderGate, type StoredExpectedPartner } from "./expected-partners.js";
import { MessageRejected, MessageVerifier } from "./message-verifier.js";
import { Ed25519Key, signMessage } from "./signed-message.js";

const A = "trust-a.test:8481";

function agreementWith(serverName: string, fields: Pick<AgreementRecord, "status" | "proposedBy">): AgreementRecord {
  const at = new Date("2026-11-22T09:00:00Z");
  return {
    id: "ag",
    peer: { serverName, name: "x", odsCode: "RXX", contact: "x" },
    terms: { scope: { kind: "all" }, purpose: "xyz", reviewDate: "2027-01-01", retention: "xyz" },
    createdAt: at,
    updatedAt: at,
    statusChangedBy: null,
    reason: null,
    suspendedBy: null,
    ...fields,
  };
}

function memoryStore(rows: StoredExpectedPartner[] = []) {
  return {
    list: async () => [...rows],
    patterns: async () => rows.map((r) => r.pattern),
    add: async (row: StoredExpectedPartner) => {
      if (rows.some((r) => r.pattern === row.pattern)) return false;
      rows.push(row);
      return true;
    },
    remove: async (pattern: string) => {
      const index = rows.findIndex((r) => r.pattern === pattern);
      if (index < 0) return false;
      rows.splice(index, 1);
      return true;
    },
  };
}

describe("expected partners", () => {
  it("matches exact names, any port when none is given, and *.domain below the domain only", () => {
    expect(matchesPartnerPattern("*.nhs.uk", "matrix.trust.nhs.uk")).toBe(true);
    expect(matchesPartnerPattern("*.nhs.uk", "matrix.trust.nhs.uk:8448")).toBe(true);
    expect(matchesPartnerPattern("*.nhs.uk", "nhs.uk")).toBe(false);
    expect(matchesPartnerPattern("*.nhs.uk", "evilnhs.uk")).toBe(false);
    expect(matchesPartnerPattern("*.nhs.uk", "nhs.uk.evil.example")).toBe(false);
    expect(matchesPartnerPattern("trust-b.test:8482", "trust-b.test:8482")).toBe(true);
    expect(matchesPartnerPattern("trust-b.test:8482", "trust-b.test:9999")).toBe(false);
    expect(matchesPartnerPattern("TRUST-B.test", "trust-b.test:8482")).toBe(true);
    expect(isServerName("127.0.0.1:8090/")).toBe(false);
    expect(isServerName("trust-b.test:8482")).toBe(true);
    expect(isServerName("evil.test@127.0.0.1")).toBe(false);
  });

  it("lets in known partners and listed patterns, nobody else, first contact included", async () => {
    const gate = new SenderGate({
      configPatterns: ["*.nhs.uk"],
      stored: memoryStore([{ pattern: "partner.example:8448", addedBy: "@admin:a", addedAt: new Date() }]),
      agreements: {
        list: async () => [
          agreementWith("we-proposed.example", { status: "proposed", proposedBy: "us" }),
          agreementWith("was-active.example", { status: "revoked", proposedBy: "peer" }),
          agreementWith("proposed-to-us.example", { status: "proposed", proposedBy: "peer" }),
        ],
      },
    });
    expect(await gate.mayContact("matrix.trust.nhs.uk")).toBe(true);
    expect(await gate.mayContact("partner.example:8448")).toBe(true);
    expect(await gate.mayContact("we-proposed.example")).toBe(true);
    expect(await gate.mayContact("was-active.example")).toBe(true);
    // A stranger that got a proposal in (while it was expected) is no partner yet.
    expect(await gate.mayContact("proposed-to-us.example")).toBe(false);
    expect(await gate.mayContact("127.0.0.1:8090")).toBe(false);
  });

  it("the portal list audits every change and refuses what is not a pattern", async () => {
    const audit = new RecordingAudit();
    const list = new ExpectedPartnerList({ store: memoryStore(), configPatterns: ["*.nhs.uk"], audit, clock: new FakeClock() });
    await list.add("@admin:a", "partner.example");
    await expect(list.add("@admin:a", "partner.example")).rejects.toMatchObject({ code: "CONFLICT" });
    await expect(list.add("@admin:a", "http://x/")).rejects.toMatchObject({ code: "VALIDATION_FAILED" });
    expect((await list.list()).fromConfig).toEqual(["*.nhs.uk"]);
    await list.remove("@admin:a", "partner.example");
    await expect(list.remove("@admin:a", "partner.example")).rejects.toMatchObject({ code: "NOT_FOUND" });
    expect(audit.actions()).toEqual(["federation.expected_partner.added", "federation.expected_partner.removed"]);
  });
});

describe("the inbox verifier and strangers", () => {
  const clock = new FakeClock();
  const key = Ed25519Key.generate("ed25519:x");
  const message = (from: string) =>
    signMessage(
      {
        id: "m1",
        type: "agreement.propose",
        from,
        to: A,
        issued_at: clock.now().toISOString(),
        expires_at: new Date(clock.now().getTime() + 600_000).toISOString(),
        key_id: key.keyId,
        agreement_id: "3c1d1b7e-5a55-4a44-9c5a-1d2f3e4a5b6c",
        payload: {},
      },
      key,
    );

  function verifierWith(lookupFails: string) {
    const looked: string[] = [];
    const logged: unknown[] = [];
    const verifier = new MessageVerifier({
      ownServerName: A,
      clock,
      peers: {
        lookup: async (server) => {
          looked.push(server);
          throw new Error(lookupFails);
        },
      },
      log: { seen: async () => false },
      senders: { mayContact: async (server) => server === "expected.example" },
      onLookupFailure: (_server, error) => logged.push(error),
      maxLifetimeMs: 86_400_000,
      clockSkewMs: 60_000,
    });
    return { verifier, looked, logged };
  }

  it("makes no request for a sender that is neither a partner nor expected, nor for a malformed server name", async () => {
    const { verifier, looked } = verifierWith("unreachable");
    await expect(verifier.verify(message("stranger.example"))).rejects.toMatchObject({ reason: "unexpected_sender" });
    await expect(verifier.verify(message("127.0.0.1:8090/"))).rejects.toMatchObject({ reason: "malformed" });
    expect(looked).toEqual([]);
  });

  it("tells the sender nothing of what its server answered; the cause goes to the log", async () => {
    const { verifier, looked, logged } = verifierWith("Unexpected token < in <html>SECRET-INTERNAL-PAGE");
    const error = await verifier.verify(message("expected.example")).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MessageRejected);
    expect((error as Error).message).not.toContain("SECRET");
    expect(looked).toEqual(["expected.example"]);
    expect(String(logged[0])).toContain("SECRET");
  });
});
