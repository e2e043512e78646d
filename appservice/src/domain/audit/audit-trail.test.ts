import { describe, expect, it } from "vitest";
import { MemoryAuditStore } from "../../testing/fakes.js";
import { isValidNhsNumberDigits } from "../records/nhs-number.js";
import { AuditTrail } from "./audit-trail.js";
import { canonicalJson, hashRecord } from "./chain.js";
import { redactAuditDetails } from "./redaction.js";

async function trailWith(count: number) {
  const store = new MemoryAuditStore();
  const trail = new AuditTrail(store);
  for (let i = 0; i < count; i++)
    await trail.record({ actor: "@alice:trust-a.test", action: "room.classify", target: `!r${i}:trust-a.test`, details: { kind: "clinical" } });
  return { store, trail };
}

describe("audit trail", () => {
  it("verifies an untouched chain", async () => {
    const { trail } = await trailWith(5);
    expect(await trail.verify()).toEqual({ ok: true, checked: 5, problems: [] });
  });

  it("detects an altered entry", async () => {
    const { store, trail } = await trailWith(5);
    (store.records[2] as { actor: string }).actor = "@mallory:trust-a.test";
    const result = await trail.verify();
    expect(result.ok).toBe(false);
    expect(result.problems).toContainEqual({ seq: 3, problem: "entry was altered: its hash does not match its contents" });
  });

  it("detects a deleted entry in the middle and at the end", async () => {
    const middle = await trailWith(5);
    middle.store.records.splice(1, 1);
    expect((await middle.trail.verify()).problems.map((p) => p.seq)).toContain(3);
    const end = await trailWith(5);
    end.store.records.pop();
    const result = await end.trail.verify();
    expect(result.ok).toBe(false);
    expect(result.problems[0]?.problem).toMatch(/entries were deleted/);
  });

  it("detects a re-hashed forgery that does not update the head", async () => {
    const { store, trail } = await trailWith(3);
    const last = store.records[2];
    if (!last) throw new Error("no record");
    last.details = { kind: "operational" };
    last.hash = hashRecord(last, last.prevHash);
    expect((await trail.verify()).ok).toBe(false);
  });

  it("pages newest first", async () => {
    const { trail } = await trailWith(5);
    const first = await trail.page({ limit: 2 });
    expect(first.entries.map((e) => e.seq)).toEqual([5, 4]);
    expect(first.nextBefore).toBe(4);
    const last = await trail.page({ limit: 2, before: 2 });
    expect(last.entries.map((e) => e.seq)).toEqual([1]);
    expect(last.nextBefore).toBeNull();
  });

  it("never stores message content or NHS numbers", async () => {
    const { store, trail } = await trailWith(0);
    await trail.record({ actor: "@a:t", action: "x", target: "t", details: { body: "patient is unwell", note: "NHS 943 476 5919", other: "ref 1234567890" } });
    expect(store.records[0]?.details).toEqual({ body: "[removed]", note: "NHS [nhs-number]", other: "ref 1234567890" });
  });

  it("hashes independently of key order", () => {
    expect(canonicalJson({ b: 1, a: { d: 2, c: [3, { f: 1, e: 2 }] } })).toBe('{"a":{"c":[3,{"e":2,"f":1}],"d":2},"b":1}');
  });

  it("checks NHS numbers with modulus 11", () => {
    for (const good of ["9434765919", "9990000018", "9000000009"]) expect(isValidNhsNumberDigits(good)).toBe(true);
    for (const bad of ["9876544321", "9111111124", "123"]) expect(isValidNhsNumberDigits(bad)).toBe(false);
    expect(redactAuditDetails(["9434765919"])).toEqual(["[nhs-number]"]);
  });
});
