import { describe, expect, it } from "vitest";
import { FakeClock, RecordingAudit } from "../../testing/fakes.js";
import type { MatrixEvent } from "../matrix-event.js";
import type { HistoryPurger, PurgeLedger, PurgeRecord, PurgeStatus, RoomHistoryReader } from "./ports.js";
import { PurgeExecutor } from "./purge-executor.js";

class MemoryLedger implements PurgeLedger {
  readonly rows = new Map<string, PurgeRecord>();
  async create(record: PurgeRecord) {
    this.rows.set(record.id, record);
  }
  async update(id: string, fields: Partial<PurgeRecord>) {
    this.rows.set(id, { ...(this.rows.get(id) as PurgeRecord), ...fields });
  }
  async open() {
    return [...this.rows.values()].filter((row) => row.state !== "complete" && row.state !== "failed");
  }
  async completed() {
    return [...this.rows.values()].filter((row) => row.state === "complete");
  }
  async remove(id: string) {
    this.rows.delete(id);
  }
}

/** A room's history on a pretend homeserver; purging drops message events before the kept one. */
class FakeSynapse implements RoomHistoryReader, HistoryPurger {
  events: MatrixEvent[] = [];
  purges: string[] = [];
  status: PurgeStatus = "complete";
  crashOnStart = false;
  async eventsNewestFirst(_roomId: string, stop: (event: MatrixEvent) => boolean) {
    const out: MatrixEvent[] = [];
    for (const event of [...this.events].reverse()) {
      out.push(event);
      if (stop(event)) break;
    }
    return out;
  }
  async startPurge(_roomId: string, keepFrom: string) {
    this.purges.push(keepFrom);
    const index = this.events.findIndex((event) => event.event_id === keepFrom);
    this.events = this.events.filter((event, i) => i >= index || event.state_key !== undefined);
    if (this.crashOnStart) throw new Error("process killed");
    return `purge-${this.purges.length}`;
  }
  async purgeStatus() {
    return this.status;
  }
}

const message = (id: string, ts: number, content: Record<string, unknown> = { body: "obs stable" }): MatrixEvent => ({
  event_id: id,
  room_id: "!r:t",
  sender: "@nurse:t",
  type: "m.room.message",
  origin_server_ts: ts,
  content,
});

function setup(captured: ReadonlySet<string> = new Set<string>()) {
  const ledger = new MemoryLedger();
  const synapse = new FakeSynapse();
  const audit = new RecordingAudit();
  const deleted: string[] = [];
  const notices: string[] = [];
  const executor = new PurgeExecutor({
    ledger,
    history: synapse,
    purger: synapse,
    media: {
      deleteMedia: async (uri) => {
        deleted.push(uri);
        return true;
      },
    },
    notifier: {
      postNotice: async (_roomId, text) => {
        notices.push(text);
        synapse.events.push({ ...message(`$notice${notices.length}`, 10_000), sender: "@handover:t" });
        return `$notice${notices.length}`;
      },
    },
    index: { recordMessage: async () => {}, forgetUpTo: async () => {}, linkSpace: async () => {} },
    captured: { capturedAmong: async () => captured },
    audit,
    clock: new FakeClock(),
    botUserId: "@handover:t",
    pollIntervalMs: 1,
    pollTimeoutMs: 1_000,
    sleep: async () => {},
  });
  const record: PurgeRecord = {
    id: "11111111-1111-1111-1111-111111111111",
    roomId: "!r:t",
    policyId: "default-operational",
    policyName: "Default operational policy",
    cutoff: new Date(2_000),
    reason: "past the maximum age",
    actor: "handover:retention",
    filingRef: null,
    filedUpTo: null,
    includesUnfiled: false,
    state: "planned",
    fromTs: null,
    eventCount: null,
    unfiledCount: 0,
    media: [],
    mediaDeleted: 0,
    keepFromEventId: null,
    noticeEventId: null,
    purgeId: null,
    purgeRequests: 0,
    error: null,
    createdAt: new Date(0),
    completedAt: null,
  };
  return { ledger, synapse, audit, deleted, notices, executor, record };
}

describe("purge executor", () => {
  it("counts, notices, purges up to the first newer event, deletes media and records the evidence", async () => {
    const { ledger, synapse, audit, deleted, notices, executor, record } = setup();
    synapse.events = [message("$1", 1_000), message("$2", 1_500, { msgtype: "m.image", url: "mxc://t/abc" }), message("$3", 3_000)];
    await ledger.create(record);
    const done = await executor.drive(record);
    expect(done).toMatchObject({ state: "complete", eventCount: 2, media: ["mxc://t/abc"], mediaDeleted: 1, keepFromEventId: "$3" });
    expect(synapse.purges).toEqual(["$3"]);
    expect(synapse.events.map((event) => event.event_id)).toEqual(["$3", "$notice1"]);
    expect(deleted).toEqual(["mxc://t/abc"]);
    expect(notices[0]).toMatch(/^2 messages sent up to .* were removed under the retention policy "Default operational policy"\.$/);
    expect(audit.actions()).toEqual(["retention.deleted"]);
  });

  it("keeps the room's latest content event from blocking the purge: the notice takes its place", async () => {
    const { synapse, executor, ledger, record } = setup();
    synapse.events = [message("$1", 1_000), message("$2", 1_900)];
    await ledger.create(record);
    await executor.drive(record);
    expect(synapse.purges).toEqual(["$notice1"]);
    expect(synapse.events.map((event) => event.event_id)).toEqual(["$notice1"]);
  });

  it("after a crash around the purge call, resumes without purging again when the history is already gone", async () => {
    const { synapse, executor, ledger, record, notices } = setup();
    synapse.events = [message("$1", 1_000), message("$3", 3_000)];
    synapse.crashOnStart = true;
    await ledger.create(record);
    await expect(executor.drive(record)).rejects.toThrow("process killed");
    const [open] = await ledger.open();
    expect(open).toMatchObject({ state: "noticed", purgeRequests: 1 });

    synapse.crashOnStart = false;
    const done = await executor.drive(open as PurgeRecord);
    expect(done).toMatchObject({ state: "complete", eventCount: 1 });
    expect(synapse.purges).toHaveLength(1);
    expect(notices).toHaveLength(1);
  });

  it("polls a purge whose id was saved instead of starting another", async () => {
    const { synapse, executor, ledger, record } = setup();
    synapse.events = [message("$1", 1_000), message("$3", 3_000)];
    const purging = { ...record, state: "purging" as const, eventCount: 1, keepFromEventId: "$3", noticeEventId: "$n", purgeId: "purge-x", purgeRequests: 1 };
    await ledger.create(purging);
    const done = await executor.drive(purging);
    expect(done?.state).toBe("complete");
    expect(synapse.purges).toEqual([]);
  });

  it("counts as unfiled exactly the deleted events no filing captured, wherever they sit in time", async () => {
    const { synapse, executor, ledger, record } = setup(new Set(["$1", "$3"]));
    synapse.events = [message("$1", 1_000), message("$2", 1_500), message("$3", 1_800), message("$4", 3_000)];
    const unfiled = { ...record, filingRef: "DR-1", filedUpTo: new Date(1_499), includesUnfiled: true };
    await ledger.create(unfiled);
    expect(await executor.drive(unfiled)).toMatchObject({ state: "complete", eventCount: 3, unfiledCount: 1 });
  });
});
