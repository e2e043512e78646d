import { describe, expect, it } from "vitest";
import { FakeClock, RecordingAudit } from "../../testing/fakes.js";
import {
  FakeRetentionHomeserver,
  MemoryHoldStore,
  MemoryPolicyStore,
  MemoryPublishedState,
  MemoryPurgeLedger,
  MemoryRetentionIndex,
  MemoryRoomDeletionLock,
} from "../../testing/retention-fakes.js";
import { HoldAndPolicyGate } from "./deletion-gate.js";
import type { PolicyRules, PolicyScope } from "./policy.js";
import { PurgeExecutor } from "./purge-executor.js";
import { RetentionStatePublication } from "./state-publication.js";
import { RetentionSweep } from "./sweep.js";

const D = 86_400_000;
const BOT = "@handover:trust-a.test";
const CLINICAL: PolicyRules = { maxAgeMs: 30 * D, deleteAfterFilingMs: D, allowUnfiledDeletion: false, minAgeMs: 0, warnBeforeMs: 3 * D };
const OPERATIONAL: PolicyRules = { maxAgeMs: 30 * D, deleteAfterFilingMs: null, allowUnfiledDeletion: false, minAgeMs: 0, warnBeforeMs: 3 * D };

/** A sweep over the real planner, executor and deletion gate, with every port a hand-written fake. */
function world(maxPurgesPerSweep = 10) {
  const clock = new FakeClock();
  const holds = new MemoryHoldStore();
  const index = new MemoryRetentionIndex(holds);
  const homeserver = new FakeRetentionHomeserver(BOT, () => clock.now());
  const ledger = new MemoryPurgeLedger();
  const policies = new MemoryPolicyStore();
  const audit = new RecordingAudit();
  const failures: string[] = [];
  const defaults = { clinical: CLINICAL, operational: OPERATIONAL };
  const settings = { warningGranularityMs: 60_000, maxPurgesPerSweep };
  const executor = new PurgeExecutor({
    ledger,
    history: homeserver,
    purger: homeserver,
    media: homeserver,
    references: { record: async () => {}, sentBy: async () => [], stillReferenced: async () => new Set(), forget: async () => {} },
    gate: new HoldAndPolicyGate({ lock: new MemoryRoomDeletionLock(), holds, facts: index, policies, clock, defaults, settings }),
    notifier: homeserver,
    index,
    captured: index,
    audit,
    clock,
    botUserId: BOT,
    pollIntervalMs: 1,
    pollTimeoutMs: 1_000,
    sleep: async () => {},
  });
  const sweep = new RetentionSweep({
    facts: index,
    policies,
    ledger,
    warnings: index,
    notifier: homeserver,
    executor,
    publication: new RetentionStatePublication({ publisher: homeserver, ledger: new MemoryPublishedState(), clock, perSweep: 100, onError: () => {} }),
    audit,
    clock,
    defaults,
    settings,
    onPurgeFailed: (record, error) => failures.push(`${record.roomId}: ${(error as Error).message}`),
  });
  let sent = 0;
  /** A nurse's message, `ageMs` old, seen by the homeserver and indexed by intake. Send oldest first. */
  const send = async (roomId: string, ageMs: number): Promise<string> => {
    const eventId = `$m${++sent}`;
    const ts = clock.now().getTime() - ageMs;
    homeserver.send({
      event_id: eventId,
      room_id: roomId,
      sender: "@nurse:trust-a.test",
      type: "m.room.message",
      origin_server_ts: ts,
      content: { body: eventId },
    });
    await index.recordMessages([{ roomId, eventId, ts: new Date(ts) }]);
    return eventId;
  };
  const policy = async (name: string, scope: PolicyScope, rules: Partial<PolicyRules>) =>
    policies.save({ ...CLINICAL, ...rules, id: name, name, scope, builtIn: false, updatedBy: "@ig:trust-a.test", updatedAt: new Date(0) });
  const hold = (roomId: string, reason: string) => holds.put({ roomId, reason, setBy: "@ig:trust-a.test", setAt: clock.now(), expiresAt: null });
  return { clock, index, homeserver, ledger, audit, failures, sweep, send, policy, hold };
}

describe("the retention sweep", () => {
  it("never deletes unfiled clinical content, however old, while the room's policy keeps it until filed", async () => {
    const { index, homeserver, ledger, sweep, send } = world();
    index.room("!ward:t", "clinical");
    await send("!ward:t", 400 * D);
    await send("!ward:t", 40 * D);

    const outcome = await sweep.run();

    expect(outcome).toMatchObject({ deletions: [], failed: 0, warned: 0 });
    expect(homeserver.messages("!ward:t")).toEqual(["$m1", "$m2"]);
    expect(homeserver.notices("!ward:t")).toEqual([]);
    expect(ledger.rows.size).toBe(0);
  });

  it("deletes what a filing captured once its delay has passed, and keeps the unfiled message after it", async () => {
    const { clock, index, homeserver, audit, sweep, send } = world();
    index.room("!ward:t", "clinical");
    const filed = await send("!ward:t", 40 * D);
    await send("!ward:t", 39 * D);
    index.file("!ward:t", "DocumentReference/1", new Date(clock.now().getTime() - 2 * D), [filed]);

    const outcome = await sweep.run();

    expect(outcome.deletions).toMatchObject([{ roomId: "!ward:t", state: "complete", eventCount: 1, unfiledCount: 0, filingRef: "DocumentReference/1" }]);
    expect(homeserver.messages("!ward:t")).toEqual(["$m2"]);
    expect(audit.actions()).toContain("retention.deleted");
  });

  it("warns a clinical room once before its maximum age, and deletes unfiled content only after the warning's due date", async () => {
    const { clock, index, homeserver, ledger, policy, sweep, send } = world();
    index.room("!ward:t", "clinical");
    await policy("Ward", { type: "room", roomId: "!ward:t" }, { allowUnfiledDeletion: true });
    await send("!ward:t", 20 * D);

    expect((await sweep.run()).warned).toBe(0);
    expect(homeserver.notices("!ward:t")).toEqual([]);

    clock.advance(8 * D);
    expect(await sweep.run()).toMatchObject({ warned: 1, deletions: [] });
    expect(await sweep.run()).toMatchObject({ warned: 0, deletions: [] });
    expect(homeserver.notices("!ward:t")).toHaveLength(1);
    expect(homeserver.notices("!ward:t")[0]).toMatch(/^1 message in this room about this patient has not been filed in the record and will be deleted on /);
    expect(homeserver.messages("!ward:t")).toEqual(["$m1"]);

    // Past the maximum age, but the room was promised three days: nothing goes before the due date.
    clock.advance(2 * D + 60_000);
    expect((await sweep.run()).deletions).toEqual([]);
    clock.advance(D);
    const outcome = await sweep.run();
    expect(outcome.deletions).toMatchObject([{ includesUnfiled: true, unfiledCount: 1 }]);
    expect(homeserver.messages("!ward:t")).toEqual([]);
    expect(ledger.forRoom("!ward:t")).toHaveLength(1);
  });

  it("deletes operational messages past their maximum age, announces it, and keeps newer ones", async () => {
    const { index, homeserver, audit, sweep, send } = world();
    index.room("!rota:t", "operational");
    await send("!rota:t", 31 * D);
    await send("!rota:t", 29 * D);

    const outcome = await sweep.run();

    expect(outcome.deletions).toMatchObject([{ roomId: "!rota:t", eventCount: 1, actor: "handover:retention" }]);
    expect(homeserver.messages("!rota:t")).toEqual(["$m2"]);
    expect(homeserver.notices("!rota:t")).toEqual([
      expect.stringMatching(/^1 message sent up to .* was removed under the retention policy "Default operational policy"\.$/),
    ]);
    expect(audit.events.find((event) => event.action === "retention.deleted")).toMatchObject({ actor: "handover:retention", target: "!rota:t" });
  });

  it("follows the most specific policy: the room's own, then its space's, then its kind's", async () => {
    const { index, homeserver, policy, sweep, send } = world();
    index.room("!in-space:t", "operational", ["!space:t"]);
    index.room("!own-policy:t", "operational", ["!space:t"]);
    index.room("!elsewhere:t", "operational");
    await policy("Space", { type: "space", spaceId: "!space:t" }, { maxAgeMs: 5 * D, deleteAfterFilingMs: null });
    await policy("Room", { type: "room", roomId: "!own-policy:t" }, { maxAgeMs: 60 * D, deleteAfterFilingMs: null });
    for (const roomId of ["!in-space:t", "!own-policy:t", "!elsewhere:t"]) await send(roomId, 10 * D);

    const outcome = await sweep.run();

    expect(outcome.deletions.map((record) => [record.roomId, record.policyName])).toEqual([["!in-space:t", "Space"]]);
    expect(homeserver.messages("!own-policy:t")).toHaveLength(1);
    expect(homeserver.messages("!elsewhere:t")).toHaveLength(1);
  });

  it("deletes nothing in a room under legal hold", async () => {
    const { index, homeserver, ledger, hold, sweep, send } = world();
    index.room("!rota:t", "operational");
    await send("!rota:t", 90 * D);
    await hold("!rota:t", "SI-42");

    expect((await sweep.run()).deletions).toEqual([]);
    expect(homeserver.messages("!rota:t")).toEqual(["$m1"]);
    expect(ledger.rows.size).toBe(0);
  });

  it("honours a legal hold placed while the sweep is deleting another room: the held room's planned purge stops before anything is announced", async () => {
    const { index, homeserver, ledger, audit, hold, sweep, send } = world();
    index.room("!first:t", "operational");
    index.room("!second:t", "operational");
    await send("!first:t", 40 * D);
    await send("!second:t", 40 * D);
    homeserver.onPurgeStart = async (roomId) => {
      if (roomId === "!first:t") await hold("!second:t", "Serious incident SI-7");
    };

    const outcome = await sweep.run();

    expect(outcome.deletions.map((record) => record.roomId)).toEqual(["!first:t"]);
    expect(homeserver.messages("!second:t")).toEqual(["$m2"]);
    expect(homeserver.notices("!second:t")).toEqual([]);
    expect(ledger.forRoom("!second:t")).toMatchObject([{ state: "stopped", error: "Legal hold placed by @ig:trust-a.test: Serious incident SI-7" }]);
    expect(audit.events.filter((event) => event.action === "retention.purge_stopped").map((event) => event.target)).toEqual(["!second:t"]);
  });

  it("goes on with the other rooms when one fails, reports the failure once, and finishes that room's purge on a later sweep", async () => {
    const { index, homeserver, ledger, audit, failures, sweep, send } = world();
    index.room("!kicked:t", "operational");
    index.room("!rota:t", "operational");
    await send("!kicked:t", 40 * D);
    await send("!rota:t", 40 * D);
    homeserver.refusing.set("!kicked:t", "M_FORBIDDEN: the bot is not in the room");

    const first = await sweep.run();
    expect(first).toMatchObject({ failed: 1 });
    expect(first.deletions.map((record) => record.roomId)).toEqual(["!rota:t"]);
    expect(ledger.forRoom("!kicked:t")).toMatchObject([{ state: "planned", error: "M_FORBIDDEN: the bot is not in the room" }]);

    // Still failing: tried again and counted, but the audit trail is not told the same thing twice.
    expect(await sweep.run()).toMatchObject({ resumed: 1, failed: 1, deletions: [] });
    expect(failures).toEqual(["!kicked:t: M_FORBIDDEN: the bot is not in the room", "!kicked:t: M_FORBIDDEN: the bot is not in the room"]);
    expect(audit.actions().filter((action) => action === "retention.purge_failed")).toHaveLength(1);

    homeserver.refusing.delete("!kicked:t");
    const third = await sweep.run();
    expect(third).toMatchObject({ resumed: 1, failed: 0 });
    expect(third.deletions.map((record) => record.roomId)).toEqual(["!kicked:t"]);
    expect(homeserver.messages("!kicked:t")).toEqual([]);
    expect(ledger.forRoom("!kicked:t")).toHaveLength(1);
  });

  it("starts at most maxPurgesPerSweep purges, leaving the rest for the next sweep", async () => {
    const { index, sweep, send } = world(2);
    for (const roomId of ["!a:t", "!b:t", "!c:t"]) {
      index.room(roomId, "operational");
      await send(roomId, 40 * D);
    }
    expect((await sweep.run()).deletions.map((record) => record.roomId)).toEqual(["!a:t", "!b:t"]);
    expect((await sweep.run()).deletions.map((record) => record.roomId)).toEqual(["!c:t"]);
  });
});
