import { describe, expect, it } from "vitest";
import { FakeClock, RecordingAudit } from "../../testing/fakes.js";
import type { MatrixEvent } from "../matrix-event.js";
import { HoldAndPolicyGate } from "./deletion-gate.js";
import { planRoom, type RoomRetentionFacts } from "./planner.js";
import type { PolicyRules, RetentionPolicy } from "./policy.js";
import type { HoldStore, PolicyStore, PurgeLedger, PurgeRecord, RetentionFactsSource } from "./ports.js";
import { plannedPurge } from "./ports.js";
import { PurgeExecutor } from "./purge-executor.js";

/**
 * Filed means captured, end to end: the planner sees only events Handover indexed or a filing
 * named. Messages sent before the bot joined the room were never delivered to it; a filing of a
 * thread does not name them. Synapse's history holds them all the same, and a purge cuts
 * history by position, so a deletion planned on "everything up to the thread's filing is
 * captured" would take them with it, recorded as filed.
 */
const D = 86_400_000;
const clock = new FakeClock();
const now = clock.now().getTime();
const ROOM = "!ward:t";
const rules: PolicyRules = { maxAgeMs: null, deleteAfterFilingMs: D, allowUnfiledDeletion: false, minAgeMs: 0, warnBeforeMs: 0 };
const policy: RetentionPolicy = {
  ...rules,
  id: "ward",
  name: "Ward",
  scope: { type: "room", roomId: ROOM },
  builtIn: false,
  updatedBy: "@ig:t",
  updatedAt: new Date(0),
};

const message = (id: string, ts: number, sender = "@nurse:t"): MatrixEvent => ({
  event_id: id,
  room_id: ROOM,
  sender,
  type: "m.room.message",
  origin_server_ts: ts,
  content: { msgtype: "m.text", body: `message ${id}` },
});

function setup() {
  const t0 = now - 10 * D;
  // Three messages before the bot joined (never indexed), then a thread the bot saw and a filing of that thread captured.
  const beforeJoin = [message("$p1", t0), message("$p2", t0 + 1_000), message("$p3", t0 + 2_000)];
  const thread = [message("$t0", t0 + 10_000), message("$t1", t0 + 11_000), message("$t2", t0 + 12_000)];
  const history: MatrixEvent[] = [...beforeJoin, ...thread];
  const index = new Map<string, number>(thread.map((event) => [event.event_id, event.origin_server_ts]));
  const captured = new Set(thread.map((event) => event.event_id));
  const filedAt = new Date(now - 5 * D);

  /** The facts store's rules over the index and the captured set (retention-facts-store.ts). */
  const roomFacts = (): RoomRetentionFacts => {
    const times = [...index].map(([id, ts]) => ({ id, ts }));
    const unfiled = times.filter(({ id }) => !captured.has(id)).map(({ ts }) => ts);
    const oldestUnfiled = unfiled.length > 0 ? Math.min(...unfiled) : null;
    const filedTimes = times.filter(({ id, ts }) => captured.has(id) && (oldestUnfiled === null || ts < oldestUnfiled)).map(({ ts }) => ts);
    return {
      roomId: ROOM,
      name: "Ward 3",
      kind: "clinical",
      spaceIds: [],
      hold: null,
      filing: filedTimes.length > 0 ? { upToTs: new Date(Math.max(...filedTimes)), filedAt, filingRef: "thread-filing" } : null,
      eventCount: times.length,
      oldestEventTs: times.length > 0 ? new Date(Math.min(...times.map(({ ts }) => ts))) : null,
      filedCount: times.length - unfiled.length,
      oldestUnfiledTs: oldestUnfiled === null ? null : new Date(oldestUnfiled),
      warnedUpTo: null,
      warningsCoverUpTo: null,
      oldestUnwarnedUnfiledTs: null,
      pendingWarningDueAt: null,
    };
  };
  const facts = { roomFacts: async () => [roomFacts()] } as unknown as RetentionFactsSource;
  const rows = new Map<string, PurgeRecord>();
  const ledger: PurgeLedger = {
    create: async (record) => void rows.set(record.id, record),
    update: async (id, fields) => void rows.set(id, { ...(rows.get(id) as PurgeRecord), ...fields }),
    open: async () => [],
    completed: async () => [],
    remove: async (id) => void rows.delete(id),
  };
  const purges: string[] = [];
  const notices: string[] = [];
  const audit = new RecordingAudit();
  const executor = new PurgeExecutor({
    ledger,
    history: {
      eventsNewestFirst: async () => [...history].reverse(),
      eventsOldestFirst: async (_roomId, stop) => {
        const index = history.findIndex((event) => stop(event));
        return index === -1 ? [...history] : history.slice(0, index + 1);
      },
    },
    purger: {
      startPurge: async (_roomId, keepFrom) => {
        purges.push(keepFrom);
        return "purge-1";
      },
      purgeStatus: async () => "complete",
    },
    media: { deleteMedia: async () => true },
    references: { record: async () => {}, sentBy: async () => [], stillReferenced: async () => new Set(), forget: async () => {} },
    gate: new HoldAndPolicyGate({
      lock: { whileLocked: (_roomId, action) => action() },
      holds: { get: async () => null } as unknown as HoldStore,
      facts,
      policies: { list: async () => [policy] } as unknown as PolicyStore,
      clock,
      defaults: { clinical: rules, operational: rules },
      settings: { warningGranularityMs: 1_000 },
    }),
    notifier: {
      postNotice: async (_roomId, text) => {
        notices.push(text);
        history.push(message(`$notice${notices.length}`, now, "@handover:t"));
        return `$notice${notices.length}`;
      },
    },
    index: {
      recordMessages: async (items) => {
        for (const item of items) if (!index.has(item.eventId)) index.set(item.eventId, item.ts.getTime());
      },
      forgetUpTo: async () => {},
      forgetEvents: async () => {},
      linkSpace: async () => {},
    },
    captured: { capturedAmong: async (_roomId, ids) => new Set(ids.filter((id) => captured.has(id))) },
    audit,
    clock,
    botUserId: "@handover:t",
    pollIntervalMs: 1,
    pollTimeoutMs: 1_000,
    sleep: async () => {},
  });
  return { roomFacts, executor, ledger, purges, notices, audit };
}

describe("a purge and messages the index never saw", () => {
  it("a filed deletion does not take messages sent before the bot joined, which no filing holds: they become known as unfiled and the deletion stops", async () => {
    const { roomFacts, executor, ledger, purges, notices, audit } = setup();
    const plan = planRoom(roomFacts(), policy, clock.now(), { warningGranularityMs: 1_000 });
    expect(plan).toMatchObject({ status: "due", includesUnfiled: false });
    const record = plannedPurge({
      id: "11111111-1111-1111-1111-111111111111",
      roomId: ROOM,
      policyId: policy.id,
      policyName: policy.name,
      cutoff: plan.cutoff as Date,
      reason: plan.reason,
      actor: "handover:retention",
      filingRef: plan.filingRef,
      filedUpTo: plan.cutoff,
      includesUnfiled: plan.includesUnfiled,
      createdAt: new Date(0),
    });
    await ledger.create(record);
    const done = await executor.drive(record);
    expect(purges).toEqual([]);
    expect(notices).toEqual([]);
    expect(done).toMatchObject({ state: "stopped" });
    expect(audit.actions()).toEqual(["retention.purge_stopped"]);
    // The next plan sees them: nothing in this room is due until they are filed.
    expect(roomFacts()).toMatchObject({ eventCount: 6, filedCount: 3, filing: null });
    expect(planRoom(roomFacts(), policy, clock.now(), { warningGranularityMs: 1_000 }).status).toBe("nothing-due");
  });
});
