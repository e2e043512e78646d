import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { MemoryAuditStore } from "../../testing/fakes.js";
import { AnchorCheck, AnchorPublisher, AnchorSigner, type AnchorSink, type PublishedAnchor, type SignedAuditAnchor } from "./anchor.js";
import { AuditTrail } from "./audit-trail.js";
import { hashRecord } from "./chain.js";

const SERVER = "trust-a.test";
const clock = { now: () => new Date("2026-12-05T21:00:00Z") };

async function anchoredTrail() {
  const store = new MemoryAuditStore();
  const trail = new AuditTrail(store);
  const signer = new AnchorSigner(randomBytes(32).toString("base64"));
  const posted: SignedAuditAnchor[] = [];
  const room: AnchorSink = { name: "room", publish: async (anchor) => void posted.push(anchor) };
  const publisher = new AnchorPublisher({ head: () => store.head(), signer, sinks: [room], server: SERVER, clock, onSinkFailed: () => {} });
  for (let i = 0; i < 3; i++) await trail.record({ actor: "@a:t", action: "x", target: `t${i}`, details: {} });
  await publisher.anchorNow();
  for (let i = 3; i < 5; i++) await trail.record({ actor: "@a:t", action: "x", target: `t${i}`, details: {} });
  await publisher.anchorNow();
  const published: PublishedAnchor[] = posted.map((anchor, i) => ({ anchor, where: `$event${i}` }));
  return { store, trail, signer, publisher, posted, published };
}

describe("audit anchors", () => {
  it("anchors the head only when it has moved", async () => {
    const { publisher, posted } = await anchoredTrail();
    expect(posted.map((anchor) => anchor.seq)).toEqual([3, 5]);
    expect(await publisher.anchorNow()).toBeNull();
  });

  it("passes an untouched chain and fails a consistent rewrite, naming the anchor it broke", async () => {
    const { store, trail, signer, published } = await anchoredTrail();
    expect(await trail.verify(new AnchorCheck(published, signer, SERVER))).toEqual({ ok: true, checked: 5, problems: [] });
    // Rewrite entry 2 and re-hash everything after it, and the head, as a database owner could.
    let prevHash = store.records[0]?.hash as string;
    for (const record of store.records.slice(1)) {
      if (record.seq === 2) record.target = "elsewhere";
      record.prevHash = prevHash;
      record.hash = hashRecord(record, prevHash);
      prevHash = record.hash;
    }
    store.headRecord = { seq: 5, hash: prevHash };
    expect((await trail.verify()).ok).toBe(true);
    const result = await trail.verify(new AnchorCheck(published, signer, SERVER));
    expect(result.ok).toBe(false);
    expect(result.problems[0]).toEqual({ seq: 3, problem: expect.stringContaining("no longer matches anchor $event0 (entry 3, ") });
  });

  it("reports anchors beyond the end of the trail, anchors not signed with this key and anchors of another server", async () => {
    const { store, trail, signer, published } = await anchoredTrail();
    store.records.splice(3);
    store.headRecord = { seq: 3, hash: store.records[2]?.hash as string };
    const other = new AnchorSigner(randomBytes(32).toString("base64"));
    const forged = { anchor: other.sign({ seq: 3, hash: "f".repeat(64), at: clock.now().toISOString(), server: SERVER }), where: "$forged" };
    const elsewhere = { anchor: signer.sign({ seq: 2, hash: "e".repeat(64), at: clock.now().toISOString(), server: "trust-b.test" }), where: "$copied" };
    const result = await trail.verify(new AnchorCheck([...published, forged, elsewhere], signer, SERVER));
    expect(result.problems.map((p) => p.problem)).toEqual([
      expect.stringContaining("anchor $copied (entry 2, 2026-12-05T21:00:00.000Z) is not signed by this Handover's audit key for this server"),
      expect.stringContaining("anchor $forged (entry 3, 2026-12-05T21:00:00.000Z) is not signed by this Handover's audit key for this server"),
      expect.stringContaining("entries were deleted: anchor $event1 (entry 5, "),
    ]);
  });

  it("refuses a signing key that is not 32 bytes", () => {
    expect(() => new AnchorSigner(randomBytes(16).toString("base64"))).toThrow(/32 random bytes/);
  });
});
