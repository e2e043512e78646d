import { describe, expect, it } from "vitest";
import { planRoom, type RoomRetentionFacts } from "./planner.js";
import { defaultPolicy, PolicyResolver, type PolicyRules, type RetentionPolicy } from "./policy.js";

const H = 3_600_000;
const D = 24 * H;
const now = new Date("2026-11-22T09:00:00Z");
const ago = (ms: number) => new Date(now.getTime() - ms);
const settings = { warningGranularityMs: 1_000 };

const clinical: PolicyRules = { maxAgeMs: 30 * D, deleteAfterFilingMs: 24 * H, allowUnfiledDeletion: false, minAgeMs: 0, warnBeforeMs: 3 * D };
const operational: PolicyRules = { maxAgeMs: 90 * D, deleteAfterFilingMs: null, allowUnfiledDeletion: true, minAgeMs: 0, warnBeforeMs: 3 * D };

/** By default nothing is filed: the oldest event is the oldest unfiled one (null once a filing is given). */
function facts(overrides: Partial<RoomRetentionFacts> = {}): RoomRetentionFacts {
  return {
    oldestUnfiledTs: overrides.filing ? null : (overrides.oldestEventTs ?? ago(40 * D)),
    roomId: "!r:t",
    name: "Ward 7",
    kind: "clinical",
    spaceIds: [],
    hold: null,
    filing: null,
    eventCount: 10,
    oldestEventTs: ago(40 * D),
    filedCount: 0,
    warnedUpTo: null,
    warningsCoverUpTo: null,
    oldestUnwarnedUnfiledTs: ago(40 * D),
    pendingWarningDueAt: null,
    ...overrides,
  };
}

const policy = (kind: "clinical" | "operational", rules: Partial<PolicyRules> = {}): RetentionPolicy => ({
  ...defaultPolicy(kind, kind === "clinical" ? clinical : operational),
  ...rules,
});

describe("retention planning", () => {
  it("keeps unfiled clinical content past its maximum age when the policy does not allow deleting it", () => {
    const plan = planRoom(facts(), policy("clinical"), now, settings);
    expect(plan.status).toBe("nothing-due");
    expect(plan.reason).toMatch(/unfiled clinical content is kept/);
    expect(plan.warning).toBeNull();
  });

  it("deletes filed content once the delete-after-filing delay has passed, up to the filed event", () => {
    const filing = { upToTs: ago(2 * D), filedAt: ago(25 * H), filingRef: "DR-1" };
    const plan = planRoom(facts({ filing, filedCount: 6 }), policy("clinical"), now, settings);
    expect(plan).toMatchObject({ status: "due", cutoff: filing.upToTs, filingRef: "DR-1", includesUnfiled: false });
  });

  it("waits for the delay and says when", () => {
    const filing = { upToTs: ago(2 * D), filedAt: ago(1 * H), filingRef: "DR-1" };
    const plan = planRoom(facts({ filing, oldestEventTs: ago(3 * D) }), policy("clinical"), now, settings);
    expect(plan.status).toBe("nothing-due");
    expect(plan.nextDeletionAt).toEqual(new Date(filing.filedAt.getTime() + 24 * H));
  });

  it("never deletes younger than the minimum age, even when filed", () => {
    const filing = { upToTs: ago(1 * H), filedAt: ago(30 * H), filingRef: "DR-2" };
    const plan = planRoom(facts({ filing, oldestEventTs: ago(5 * H) }), policy("clinical", { minAgeMs: 2 * H }), now, settings);
    expect(plan.cutoff).toEqual(ago(2 * H));
  });

  it("deletes operational content at its maximum age", () => {
    const plan = planRoom(facts({ kind: "operational", oldestEventTs: ago(100 * D) }), policy("operational"), now, settings);
    expect(plan).toMatchObject({ status: "due", cutoff: ago(90 * D), includesUnfiled: false });
  });

  it("warns before deleting unfiled clinical content, and deletes only what the due warning covered", () => {
    const allowing = policy("clinical", { allowUnfiledDeletion: true });
    const first = planRoom(facts({ oldestUnwarnedUnfiledTs: ago(28 * D) }), allowing, now, settings);
    expect(first.status).toBe("nothing-due");
    expect(first.warning).toEqual({ dueAt: new Date(ago(28 * D).getTime() + 30 * D + 1 * D), coversUpTo: ago(27 * D) });

    const warned = facts({ warnedUpTo: ago(35 * D), warningsCoverUpTo: ago(35 * D), oldestUnwarnedUnfiledTs: ago(34 * D) });
    const due = planRoom(warned, allowing, now, settings);
    expect(due).toMatchObject({ status: "due", cutoff: ago(35 * D), includesUnfiled: true });
  });

  it("gives the full warning period when the warning goes out late", () => {
    const plan = planRoom(facts({ oldestUnwarnedUnfiledTs: ago(40 * D) }), policy("clinical", { allowUnfiledDeletion: true }), now, settings);
    expect(plan.warning?.dueAt).toEqual(new Date(now.getTime() + 3 * D));
  });

  it("releases filed content only up to the oldest event the filing did not capture, whatever range it read", () => {
    const filing = { upToTs: ago(2 * D), filedAt: ago(25 * H), filingRef: "DR-1" };
    const plan = planRoom(facts({ filing, filedCount: 6, oldestUnfiledTs: ago(10 * D) }), policy("clinical"), now, settings);
    expect(plan).toMatchObject({ status: "due", cutoff: new Date(ago(10 * D).getTime() - 1), filingRef: "DR-1", includesUnfiled: false });
  });

  it("keeps a filed conversation whose first event the filing did not capture, and says why", () => {
    const filing = { upToTs: ago(2 * D), filedAt: ago(25 * H), filingRef: "DR-1" };
    const plan = planRoom(facts({ filing, filedCount: 9, oldestUnfiledTs: ago(40 * D) }), policy("clinical"), now, settings);
    expect(plan).toMatchObject({ status: "nothing-due", cutoff: null });
    expect(plan.reason).toMatch(/not held by the record/);
  });

  it("deletes an uncaptured event only as unfiled content: past maximum age, after its warning, counted as unfiled", () => {
    const filing = { upToTs: ago(2 * D), filedAt: ago(25 * H), filingRef: "DR-1" };
    const allowing = policy("clinical", { allowUnfiledDeletion: true });
    const unwarned = planRoom(facts({ filing, oldestUnfiledTs: ago(35 * D), oldestUnwarnedUnfiledTs: ago(35 * D) }), allowing, now, settings);
    expect(unwarned).toMatchObject({ status: "due", cutoff: new Date(ago(35 * D).getTime() - 1), includesUnfiled: false });
    expect(unwarned.warning).toEqual({ dueAt: new Date(now.getTime() + 3 * D), coversUpTo: ago(27 * D) });

    const warned = facts({
      filing,
      oldestUnfiledTs: ago(35 * D),
      warnedUpTo: ago(34 * D),
      warningsCoverUpTo: ago(27 * D),
      oldestUnwarnedUnfiledTs: ago(26 * D),
    });
    expect(planRoom(warned, allowing, now, settings)).toMatchObject({ status: "due", cutoff: ago(34 * D), includesUnfiled: true });
  });

  it("blocks every deletion under a legal hold, until it expires", () => {
    const filing = { upToTs: ago(2 * D), filedAt: ago(25 * H), filingRef: "DR-1" };
    const hold = { roomId: "!r:t", reason: "Inquest", setBy: "@ig:t", setAt: ago(H), expiresAt: new Date(now.getTime() + H) };
    expect(planRoom(facts({ filing, hold }), policy("clinical"), now, settings).status).toBe("held");
    const expired = { ...hold, expiresAt: ago(1) };
    expect(planRoom(facts({ filing, hold: expired }), policy("clinical"), now, settings).status).toBe("due");
  });

  it("picks the most specific policy: room, then space, then kind", () => {
    const base = { builtIn: false, updatedBy: "@a:t", updatedAt: now, ...clinical };
    const roomPolicy: RetentionPolicy = { ...base, id: "p-room", name: "room", scope: { type: "room", roomId: "!r:t" } };
    const spacePolicy: RetentionPolicy = { ...base, id: "p-space", name: "space", scope: { type: "space", spaceId: "!s:t" } };
    const resolver = new PolicyResolver([spacePolicy, roomPolicy], { clinical, operational });
    expect(resolver.effective({ roomId: "!r:t", kind: "clinical", spaceIds: ["!s:t"] })?.id).toBe("p-room");
    expect(resolver.effective({ roomId: "!x:t", kind: "clinical", spaceIds: ["!s:t"] })?.id).toBe("p-space");
    expect(resolver.effective({ roomId: "!x:t", kind: "operational", spaceIds: [] })?.id).toBe("default-operational");
    expect(resolver.effective({ roomId: "!x:t", kind: null, spaceIds: [] })).toBeNull();
  });
});
