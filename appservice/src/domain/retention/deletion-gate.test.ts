import { describe, expect, it } from "vitest";
import { FakeClock } from "../../testing/fakes.js";
import { BotNotInRoomError, HoldAndPolicyGate } from "./deletion-gate.js";
import type { LegalHold, RoomRetentionFacts } from "./planner.js";
import type { PolicyRules, RetentionPolicy } from "./policy.js";
import type { HoldStore, PolicyStore, PurgeRecord, RetentionFactsSource, RoomDeletionLock } from "./ports.js";

const D = 86_400_000;
const clock = new FakeClock();
const now = clock.now().getTime();
const operational: PolicyRules = { maxAgeMs: 30 * D, deleteAfterFilingMs: null, allowUnfiledDeletion: false, minAgeMs: 0, warnBeforeMs: 0 };

function setup() {
  let hold: LegalHold | null = null;
  let joined = true;
  const roomPolicy: RetentionPolicy = {
    ...operational,
    id: "policy-1",
    name: "Rota",
    scope: { type: "room", roomId: "!r:t" },
    builtIn: false,
    updatedBy: "@ig:t",
    updatedAt: new Date(0),
  };
  const policies = [roomPolicy];
  const lockEvents: string[] = [];
  const facts: RoomRetentionFacts = {
    roomId: "!r:t",
    name: "Rota",
    kind: "operational",
    spaceIds: [],
    hold: null,
    filing: null,
    eventCount: 5,
    oldestEventTs: new Date(now - 40 * D),
    filedCount: 0,
    warnedUpTo: null,
    warningsCoverUpTo: null,
    oldestUnwarnedUnfiledTs: null,
    oldestUnfiledTs: new Date(now - 40 * D),
    pendingWarningDueAt: null,
  };
  const lock: RoomDeletionLock = {
    async whileLocked(roomId, action) {
      lockEvents.push(`lock ${roomId}`);
      try {
        return await action();
      } finally {
        lockEvents.push(`unlock ${roomId}`);
      }
    },
  };
  const holds = { get: async () => hold } as unknown as HoldStore;
  const factsSource = { roomFacts: async () => (joined ? [{ ...facts, hold }] : []) } as unknown as RetentionFactsSource;
  const policyStore = { list: async () => policies } as unknown as PolicyStore;
  const gate = new HoldAndPolicyGate({
    lock,
    holds,
    facts: factsSource,
    policies: policyStore,
    clock,
    defaults: { clinical: operational, operational },
    settings: { warningGranularityMs: 1_000 },
  });
  const record = { roomId: "!r:t", policyId: "policy-1", cutoff: new Date(now - 31 * D) } as PurgeRecord;
  return {
    gate,
    record,
    lockEvents,
    policies,
    placeHold: (reason: string) => {
      hold = { roomId: "!r:t", reason, setBy: "@ig:t", setAt: new Date(now), expiresAt: null };
    },
    leave: () => {
      joined = false;
    },
  };
}

describe("the deletion gate", () => {
  it("runs the step under the room's lock when hold and policy still allow the deletion", async () => {
    const { gate, record, lockEvents } = setup();
    const outcome = await gate.whileAllowed(record, async () => {
      lockEvents.push("step");
      return "$notice";
    });
    expect(outcome).toEqual({ allowed: true, value: "$notice" });
    expect(lockEvents).toEqual(["lock !r:t", "step", "unlock !r:t"]);
  });

  it("refuses once a legal hold is in place, naming it", async () => {
    const { gate, record, placeHold } = setup();
    placeHold("SI-42");
    let ran = false;
    const outcome = await gate.whileAllowed(record, async () => (ran = true));
    expect(outcome).toEqual({ allowed: false, reason: "Legal hold placed by @ig:t: SI-42" });
    expect(ran).toBe(false);
  });

  it("refuses when the room's policy changed so that the planned deletion is no longer due", async () => {
    const { gate, record, policies } = setup();
    policies[0] = { ...(policies[0] as RetentionPolicy), maxAgeMs: 60 * D };
    const outcome = await gate.whileAllowed(record, async () => true);
    expect(outcome.allowed).toBe(false);
  });

  it("refuses when another policy now governs the room", async () => {
    const { gate, record, policies } = setup();
    policies.splice(0);
    const outcome = await gate.whileAllowed(record, async () => true);
    expect(outcome).toMatchObject({ allowed: false, reason: expect.stringContaining("no longer allows") });
  });

  it("fails (to be reported, and tried again) when the bot is no longer in the room", async () => {
    const { gate, record, leave } = setup();
    leave();
    await expect(gate.whileAllowed(record, async () => true)).rejects.toBeInstanceOf(BotNotInRoomError);
  });
});
