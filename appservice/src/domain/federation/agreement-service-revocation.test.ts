import { describe, expect, it } from "vitest";
import { FakeClock, RecordingAudit } from "../../testing/fakes.js";
import type { AgreementRecord } from "./agreement.js";
import { AgreementService } from "./agreement-service.js";
import type { MessageVerifier } from "./message-verifier.js";
import type { MessageLog } from "./ports.js";
import { Ed25519Key, type SignedMessage } from "./signed-message.js";

const B = "trust-b.test:8482";

describe("acting on an agreement", () => {
  it("starts this side's enforcement of a revocation before the partner has answered, and records the message as sent first", async () => {
    const steps: string[] = [];
    let record: AgreementRecord = {
      id: "ag1",
      peer: { serverName: B, name: "Trust B", odsCode: "RBB", contact: "x" },
      proposedBy: "us",
      status: "active",
      terms: { scope: { kind: "all" }, purpose: "stroke", reviewDate: "2027-01-01", retention: "own policy" },
      createdAt: new Date(),
      updatedAt: new Date(),
      statusChangedBy: null,
      reason: null,
      suspendedBy: null,
    };
    let answer: () => void = () => undefined;
    const partnerAnswered = new Promise<void>((resolve) => {
      answer = resolve;
    });
    const key = Ed25519Key.generate("ed25519:a1");
    const service = new AgreementService({
      ownServerName: "trust-a.test:8481",
      agreements: {
        get: async () => record,
        list: async () => [record],
        insert: async () => undefined,
        update: async (_id, fields) => {
          steps.push(`stored ${fields.status}`);
          record = { ...record, ...fields };
        },
      },
      log: {
        recordSent: async () => void steps.push("recorded as sent"),
        markDelivered: async () => void steps.push("delivered"),
        markFailed: async () => undefined,
      } as unknown as MessageLog,
      peers: { lookup: async () => ({ serverName: B, name: "Trust B", odsCode: "RBB", contact: "x", inboxUrl: "https://b/inbox", keys: {} as never }) },
      transport: {
        deliver: async () => {
          steps.push("partner asked");
          await partnerAnswered;
        },
      },
      keys: { current: async () => key },
      verifier: {} as MessageVerifier,
      audit: new RecordingAudit(),
      clock: new FakeClock(),
      listener: {
        agreementsChanged: async (change: { agreement: AgreementRecord; message: SignedMessage }) => {
          steps.push(`enforcing ${change.agreement.status}`);
          answer();
        },
      },
      onEnforcementError: () => undefined,
      newId: () => "m1",
      messageLifetimeMs: 3_600_000,
    });
    const revoked = await service.act("@admin:trust-a.test:8481", "ag1", "revoke", "network dissolved");
    await service.idle();
    expect(revoked.status).toBe("revoked");
    expect(steps).toEqual(["stored revoked", "recorded as sent", "enforcing revoked", "partner asked", "delivered"]);
  });
});
