import { describe, expect, it } from "vitest";
import { checkRemovals, type GuardLimits, NO_RECENT_REMOVALS } from "./guard.js";
import type { MembershipAction, MembershipPlan } from "./planner.js";

const limits: GuardLimits = { maxRemovalShare: 0.05, maxRemovals: 500, windowMs: 86_400_000 };
const plan = (removals: number, managedMemberships: number, actions: MembershipAction[] = []): MembershipPlan => ({
  actions,
  removals,
  managedMemberships,
  unreadableRooms: [],
});
const people = (count: number, prefix = "p") => Array.from({ length: count }, (_, index) => `@${prefix}${index}:t`);
const leaverSteps = (userIds: string[]): MembershipAction[] =>
  userIds.flatMap((userId) => [
    { kind: "end-sessions" as const, userId, why: "leaver" as const },
    { kind: "lock" as const, userId, why: "leaver" as const },
  ]);
const alone = { knownPeople: [], recent: NO_RECENT_REMOVALS };

describe("mass-removal guard", () => {
  it("holds a run over the share or the number of memberships, and lets small runs through", () => {
    expect(checkRemovals(plan(5, 100), alone, limits)).toEqual({ held: false });
    expect(checkRemovals(plan(6, 100), alone, limits)).toMatchObject({ held: true, reason: expect.stringMatching(/6 of 100 .*6%.*5%/) });
    expect(checkRemovals(plan(501, 100_000), alone, limits)).toMatchObject({ held: true, reason: expect.stringMatching(/limit of 500/) });
    expect(checkRemovals(plan(0, 0), alone, limits)).toEqual({ held: false });
  });

  it("counts people logged out, locked or deactivated against the people known active, once each", () => {
    const active = people(100);
    const context = { knownPeople: active, recent: NO_RECENT_REMOVALS };
    expect(checkRemovals(plan(0, 1000, leaverSteps(active.slice(0, 5))), context, limits)).toEqual({ held: false });
    expect(checkRemovals(plan(0, 1000, leaverSteps(active.slice(0, 6))), context, limits)).toMatchObject({
      held: true,
      reason: expect.stringMatching(/log out, lock or deactivate 6 of 100 people \(6%\)/),
    });
    // A lock due days later, after the log-out, still counts: a leaver already gone is in the base.
    const late: MembershipAction[] = people(600, "gone").map((userId) => ({ kind: "deactivate", userId, why: "leaver" }));
    expect(checkRemovals(plan(0, 0, late), { knownPeople: people(100_000), recent: NO_RECENT_REMOVALS }, limits)).toMatchObject({
      held: true,
      reason: expect.stringMatching(/600 people, more than the limit of 500/),
    });
  });

  it("adds what the window already removed to the plan's, and never holds a plan that removes nothing", () => {
    const recent = { memberships: 4, accounts: new Set(people(4)) };
    expect(checkRemovals(plan(2, 96), { knownPeople: [], recent }, limits)).toMatchObject({
      held: true,
      reason: expect.stringMatching(/6 of 100 managed memberships .*counting 4 removed in the last 24 h/),
    });
    const active = people(96, "q");
    expect(checkRemovals(plan(0, 0, leaverSteps(active.slice(0, 2))), { knownPeople: active, recent }, limits)).toMatchObject({
      held: true,
      reason: expect.stringMatching(/6 of 100 people \(6%\).*counting 4 removed/),
    });
    expect(checkRemovals(plan(0, 10), { knownPeople: [], recent: { memberships: 1000, accounts: new Set(people(1000)) } }, limits)).toEqual({
      held: false,
    });
  });
});
