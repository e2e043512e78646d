import { describe, expect, it } from "vitest";
import {
  actuallyChanged,
  changedSinceFilter,
  checkIncrementalAnswer,
  compareMarkers,
  generalizedTime,
  highestMarker,
  type LdapRecord,
  mergeChanged,
  planRead,
} from "./ldap-incremental.js";

const record = (dn: string, marker: string | null, kind: LdapRecord["kind"] = "person"): LdapRecord => ({ dn, kind, attributes: { cn: [dn] }, marker });
const NOW = new Date("2026-11-22T12:00:00Z");
const DAY = 86_400_000;

describe("incremental LDAP reads", () => {
  it("compares USNs as numbers and timestamps with or without fractions", () => {
    expect(compareMarkers("uSNChanged", "9", "10")).toBe(-1);
    expect(compareMarkers("uSNChanged", "123456789012", "123456789012")).toBe(0);
    expect(compareMarkers("modifyTimestamp", "20261122120000Z", "20261122115959.9Z")).toBe(1);
    expect(compareMarkers("modifyTimestamp", "20261122120000.000Z", "20261122120000Z")).toBe(0);
    expect(generalizedTime(NOW)).toBe("20261122120000Z");
  });

  it("asks for changes at or after the high-water mark within the configured filter", () => {
    expect(changedSinceFilter("(objectClass=person)", "modifyTimestamp", "20261122120000Z")).toBe("(&(objectClass=person)(modifyTimestamp>=20261122120000Z))");
    expect(changedSinceFilter("objectClass=group", "uSNChanged", "4711")).toBe("(&(objectClass=group)(uSNChanged>=4711))");
  });

  it("plans a full read first, after the full-run interval, on changed settings, and without a marker", () => {
    const options = { now: NOW, fullEveryMs: DAY, fingerprint: "f1" };
    expect(planRead(null, options)).toEqual({ kind: "full", reason: "first read" });
    const state = { highWater: "20261122110000Z", fullAt: new Date(NOW.getTime() - DAY + 1000), fingerprint: "f1" };
    expect(planRead(state, options)).toEqual({ kind: "incremental", since: "20261122110000Z" });
    expect(planRead({ ...state, fullAt: new Date(NOW.getTime() - DAY) }, options).kind).toBe("full");
    expect(planRead({ ...state, fingerprint: "f0" }, options)).toEqual({ kind: "full", reason: "source settings changed" });
    expect(planRead({ ...state, highWater: null }, options).kind).toBe("full");
  });

  it("takes the highest marker seen, ignoring entries without one", () => {
    expect(highestMarker("uSNChanged", [record("a", "12"), record("b", null), record("c", "9")], "10")).toBe("12");
    expect(highestMarker("uSNChanged", [], "10")).toBe("10");
    expect(highestMarker("modifyTimestamp", [record("a", "garbage")], null)).toBeNull();
  });

  it("refuses an incremental answer that looks wrong", () => {
    expect(checkIncrementalAnswer("uSNChanged", "100", [record("a", "120")], "150")).toBeNull();
    expect(checkIncrementalAnswer("uSNChanged", "100", [], null)).toMatch(/does not report/);
    expect(checkIncrementalAnswer("uSNChanged", "200", [], "150")).toMatch(/ahead of the server's 150/); // another DC, a restore
    expect(checkIncrementalAnswer("uSNChanged", "100", [record("a", "90")], "150")).toMatch(/ignored the filter/);
    expect(checkIncrementalAnswer("modifyTimestamp", "20261122110000Z", [record("a", null)], "20261122120500Z")).toMatch(/without a readable/);
    expect(checkIncrementalAnswer("modifyTimestamp", "20991231000000Z", [], "20261122120500Z")).toMatch(/ahead of/);
  });

  it("merges changed entries over the stored copy by kind and DN", () => {
    const stored = new Map([
      ["person:a", record("a", "1")],
      ["person:b", record("b", "1")],
      ["group:a", record("a", "1", "group")],
    ]);
    const merged = mergeChanged(stored, [record("b", "5"), record("c", "6")]);
    expect([...merged.keys()]).toEqual(["person:a", "person:b", "group:a", "person:c"]);
    expect(merged.get("person:b")?.marker).toBe("5");
    expect(stored.get("person:b")?.marker).toBe("1");
    expect([...mergeChanged(stored, [], [record("a", "7"), record("zz", "7")]).keys()]).toEqual(["person:b", "group:a"]);
  });
});

describe("changed entries", () => {
  it("drops entries the inclusive filter repeated unchanged, whatever the attribute order", () => {
    const stored = new Map([["person:a", { dn: "a", kind: "person" as const, attributes: { title: ["Nurse"], cn: ["A"] }, marker: "1" }]]);
    const repeated = { dn: "a", kind: "person" as const, attributes: { cn: ["A"], title: ["Nurse"] }, marker: "1" };
    const moved = { ...repeated, attributes: { cn: ["A"], title: ["Sister"] }, marker: "2" };
    expect(actuallyChanged(stored, [repeated])).toEqual([]);
    expect(actuallyChanged(stored, [moved, record("b", "2")])).toEqual([moved, record("b", "2")]);
  });
});
