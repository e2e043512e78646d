import { describe, expect, it } from "vitest";
import { message, setup } from "../../testing/purge-executor-world.js";
import type { PurgeRecord } from "./ports.js";
import { CALLED_OFF_NOTICE, stoppedPartWayNotice } from "./purge-executor.js";
import { DEFAULT_PACER_SETTINGS, PurgePacer } from "./purge-pacer.js";

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
    // Synapse finished that purge: the planned message is gone.
    synapse.events = [message("$3", 3_000)];
    const purging = { ...record, state: "purging" as const, eventCount: 1, keepFromEventId: "$3", noticeEventId: "$n", purgeId: "purge-x", purgeRequests: 1 };
    await ledger.create(purging);
    const done = await executor.drive(purging);
    expect(done?.state).toBe("complete");
    expect(synapse.purges).toEqual([]);
  });

  it("purges exactly the planned messages: one sent while the notice went out is kept", async () => {
    const { synapse, executor, ledger, record, arrivingDuringNotice } = setup();
    synapse.events = [message("$1", 1_000), message("$2", 1_900)];
    arrivingDuringNotice.push(message("$late", 2_500));
    await ledger.create(record);
    const done = await executor.drive(record);
    expect(done).toMatchObject({ state: "complete", eventCount: 2, eventIds: ["$1", "$2"], keepFromEventId: "$late" });
    expect(synapse.events.map((event) => event.event_id)).toEqual(["$late", "$notice1"]);
  });

  it("deletes only media the purged events sent, not media a message quotes or an event kept elsewhere still uses", async () => {
    const { synapse, executor, ledger, record, references, deleted } = setup();
    const held = "mxc://t/held";
    const shared = "mxc://t/shared";
    const own = "mxc://t/own";
    const encrypted = "mxc://t/encrypted";
    await references.record("!held:t", "$heldImage", [{ uri: held, sent: true }]);
    await references.record("!other:t", "$forward", [{ uri: shared, sent: true }]);
    // Intake saw the encrypted event decrypted; the history only has ciphertext.
    await references.record("!r:t", "$enc", [{ uri: encrypted, sent: true }]);
    synapse.events = [
      message("$quote", 1_000, { msgtype: "m.text", body: held }),
      message("$own", 1_100, { msgtype: "m.image", body: "a.png", url: own, info: { thumbnail_url: "mxc://t/thumb" } }),
      message("$shared", 1_200, { msgtype: "m.file", body: "b.pdf", url: shared }),
      { ...message("$enc", 1_300, { algorithm: "m.megolm.v1.aes-sha2", ciphertext: "..." }), type: "m.room.encrypted" },
      message("$3", 3_000),
    ];
    await ledger.create(record);
    const done = await executor.drive(record);
    expect(done?.media).toEqual([encrypted, own, shared, "mxc://t/thumb"].sort());
    expect(deleted.sort()).toEqual([encrypted, own, "mxc://t/thumb"].sort());
    expect(done?.mediaDeleted).toBe(3);
  });

  it("stops before the notice when the gate refuses (a hold placed since the plan), and records why", async () => {
    const { synapse, executor, ledger, record, gate, notices, audit } = setup();
    synapse.events = [message("$1", 1_000), message("$3", 3_000)];
    gate.refusal = "Legal hold placed by @ig:t: SI-1";
    await ledger.create(record);
    const done = await executor.drive(record);
    expect(done).toMatchObject({ state: "stopped", error: "Legal hold placed by @ig:t: SI-1" });
    expect(notices).toEqual([]);
    expect(synapse.purges).toEqual([]);
    expect(audit.actions()).toEqual(["retention.purge_stopped"]);
    expect(await ledger.open()).toEqual([]);
  });

  it("stops before the purge call when the gate refuses after the notice, and tells the room", async () => {
    const { synapse, executor, ledger, record, gate, notices } = setup();
    synapse.events = [message("$1", 1_000), message("$3", 3_000)];
    const noticed = { ...record, state: "noticed" as const, eventCount: 1, eventIds: ["$1"], keepFromEventId: "$3", noticeEventId: "$n" };
    await ledger.create(noticed);
    gate.refusal = "The room's retention policy no longer allows this deletion";
    const done = await executor.drive(noticed);
    expect(done?.state).toBe("stopped");
    expect(notices).toEqual([CALLED_OFF_NOTICE]);
    expect(synapse.purges).toEqual([]);
    expect(synapse.events.map((event) => event.event_id)).toEqual(["$1", "$3", "$notice1"]);
  });

  it("keeps the media when a legal hold was placed after the purge started (or while the process was down), and says so in the record", async () => {
    const { synapse, executor, ledger, record, gate, deleted, audit } = setup();
    synapse.events = [message("$3", 3_000)];
    // Resumed after a crash: Synapse purged the messages; their images are still in the media store.
    const purged = { ...record, state: "purged" as const, eventCount: 1, eventIds: ["$1"], media: ["mxc://t/wound-photo"], purgeId: "purge-1" };
    await ledger.create(purged);
    gate.refusal = "Legal hold placed by @ig:t: SI-42";
    const done = await executor.drive(purged);
    expect(deleted).toEqual([]);
    expect(done).toMatchObject({ state: "complete", mediaDeleted: 0 });
    expect(audit.events.find((event) => event.action === "retention.deleted")?.details).toMatchObject({
      media: 1,
      mediaDeleted: 0,
      mediaKept: "Legal hold placed by @ig:t: SI-42",
    });
  });

  it("does not purge a message that landed among the planned ones after the notice (a partner's server delivering late): the purge stops and is planned again", async () => {
    const { synapse, executor, ledger, record, notices } = setup();
    // Synapse orders history by depth: an event whose server was cut off points at old events and sorts among them.
    const late = { ...message("$late", 9_000), sender: "@gp:partner.test" };
    synapse.events = [message("$1", 1_000), late, message("$2", 1_500), message("$3", 3_000)];
    const noticed = { ...record, state: "noticed" as const, eventCount: 2, eventIds: ["$1", "$2"], keepFromEventId: "$3", noticeEventId: "$n" };
    await ledger.create(noticed);
    const done = await executor.drive(noticed);
    expect(synapse.purges).toEqual([]);
    expect(synapse.events.map((event) => event.event_id)).toContain("$late");
    expect(done).toMatchObject({ state: "stopped", error: expect.stringMatching(/\$late/) });
    expect(notices).toEqual([CALLED_OFF_NOTICE]);
  });

  it("counts as unfiled exactly the deleted events no filing captured, wherever they sit in time", async () => {
    const { synapse, executor, ledger, record } = setup(new Set(["$1", "$3"]));
    synapse.events = [message("$1", 1_000), message("$2", 1_500), message("$3", 1_800), message("$4", 3_000)];
    const unfiled = { ...record, filingRef: "DR-1", filedUpTo: new Date(1_499), includesUnfiled: true };
    await ledger.create(unfiled);
    expect(await executor.drive(unfiled)).toMatchObject({ state: "complete", eventCount: 3, unfiledCount: 1 });
  });

  it("deletes a big room in slices of at most sliceEvents planned messages, each behind the gate, and only the planned ones", async () => {
    const { synapse, executor, ledger, record, gate, notices } = setup(new Set(), 3);
    synapse.events = [...Array.from({ length: 10 }, (_, i) => message(`$${i + 1}`, 1_000 + i)), message("$new", 3_000)];
    await ledger.create(record);
    const done = await executor.drive(record);
    expect(synapse.purges).toEqual(["$4", "$7", "$10", "$new"]);
    // The notice and each of the four slices (the last read, which found nothing planned left, deletes nothing).
    expect(gate.asked).toBe(5);
    expect(done).toMatchObject({ state: "complete", eventCount: 10, plannedCount: 10, purgeRequests: 4 });
    expect(synapse.events.map((event) => event.event_id)).toEqual(["$new", "$notice1"]);
    expect(notices).toHaveLength(1);
  });

  it("a legal hold placed between two slices stops the remaining slices; the deletion record counts only what was deleted", async () => {
    const { synapse, executor, ledger, record, gate, notices, audit, deleted, forgotten } = setup(new Set(), 3);
    synapse.events = [
      ...Array.from({ length: 10 }, (_, i) => message(`$${i + 1}`, 1_000 + i, i === 8 ? { msgtype: "m.image", url: "mxc://t/late-photo" } : undefined)),
      message("$new", 3_000),
    ];
    // The notice and two slices go through; the hold is in place before the third.
    gate.holdAfter = { steps: 3, reason: "Legal hold placed by @ig:t: SI-7" };
    await ledger.create(record);
    const done = await executor.drive(record);
    expect(synapse.purges).toEqual(["$4", "$7"]);
    expect(synapse.events.map((event) => event.event_id)).toEqual(["$7", "$8", "$9", "$10", "$new", "$notice1", "$notice2"]);
    expect(done).toMatchObject({
      state: "complete",
      eventCount: 6,
      plannedCount: 10,
      eventIds: ["$1", "$2", "$3", "$4", "$5", "$6"],
      mediaDeleted: 0,
      error: "Stopped part-way: Legal hold placed by @ig:t: SI-7",
    });
    expect(notices[1]).toBe(stoppedPartWayNotice(6, 10));
    expect(deleted).toEqual([]);
    // Only the deleted messages leave the index: the kept ones still count for the next plan.
    expect(forgotten).toEqual(["$1", "$2", "$3", "$4", "$5", "$6"]);
    expect(audit.actions()).toEqual(["retention.purge_stopped", "retention.deleted"]);
    expect(audit.events.find((event) => event.action === "retention.deleted")?.details).toMatchObject({
      events: 6,
      plannedEvents: 10,
      media: 1,
      mediaDeleted: 0,
    });
  });

  it("messages sent at the same moment as the first event kept share its depth: slices reach further, and what cannot go is kept and not counted as deleted", async () => {
    const { synapse, executor, ledger, record } = setup(new Set(), 1);
    synapse.events = [message("$1", 1_000), message("$2", 1_001), message("$3", 1_002), message("$4", 1_003), message("$5", 1_004), message("$new", 3_000)];
    synapse.depths = new Map([
      ["$1", 1],
      ["$2", 1],
      ["$3", 1],
      ["$4", 2],
      ["$5", 3],
      ["$new", 3],
      ["$notice1", 4],
    ]);
    await ledger.create(record);
    const done = await executor.drive(record);
    expect(synapse.events.map((event) => event.event_id)).toEqual(["$5", "$new", "$notice1"]);
    expect(done).toMatchObject({ state: "complete", eventCount: 4, plannedCount: 5, eventIds: ["$1", "$2", "$3", "$4"] });
    expect(done?.error).toMatch(/1 planned message\(s\) .* kept/);
  });

  it("a purge still running after pollTimeoutMs is left open for the next sweep after one wait, not two, and polled there rather than started again", async () => {
    const { synapse, executor, ledger, record, clock } = setup(new Set(), undefined, { timedPauses: true });
    synapse.events = [message("$1", 1_000), message("$3", 3_000)];
    synapse.status = "active";
    const noticed = { ...record, state: "noticed" as const, eventCount: 1, eventIds: ["$1"], keepFromEventId: "$3", noticeEventId: "$n" };
    await ledger.create(noticed);
    const began = clock.now().getTime();
    const left = await executor.drive(noticed);
    expect(left).toMatchObject({ state: "purging", purgeId: "purge-1" });
    expect(clock.now().getTime() - began).toBeLessThanOrEqual(1_001);
    expect(await ledger.open()).toMatchObject([{ state: "purging", purgeId: "purge-1" }]);

    synapse.status = "complete";
    expect(await executor.drive(left as PurgeRecord)).toMatchObject({ state: "complete", eventCount: 1 });
    expect(synapse.purges).toHaveLength(1);
  });

  it("a purge finished in a later sweep rests for what that sweep waited on it, not for the hour between the sweeps", async () => {
    const pauses: number[] = [];
    const { synapse, executor, ledger, record, clock } = setup(new Set(), undefined, {
      timedPauses: true,
      pacer: (clock) =>
        new PurgePacer(DEFAULT_PACER_SETTINGS, clock, async (ms) => {
          pauses.push(ms);
          clock.advance(ms);
        }),
    });
    synapse.events = [message("$1", 1_000), message("$3", 3_000)];
    synapse.status = "active";
    const noticed = { ...record, state: "noticed" as const, eventCount: 1, eventIds: ["$1"], keepFromEventId: "$3", noticeEventId: "$n" };
    await ledger.create(noticed);
    const left = await executor.drive(noticed);
    expect(left?.state).toBe("purging");

    clock.advance(3_600_000);
    synapse.status = "complete";
    pauses.length = 0;
    expect(await executor.drive(left as PurgeRecord)).toMatchObject({ state: "complete" });
    expect(Math.max(0, ...pauses)).toBeLessThanOrEqual(1_000);
  });

  it("rests between slices outside the room's lock: a legal hold being placed never waits for a rest, only for the purge call", async () => {
    const pausesInsideLock: number[] = [];
    let insideLock = false;
    const { synapse, executor, ledger, record, gate } = setup(new Set(), 3, {
      timedPauses: true,
      pacedReadMs: 40,
      pacer: (clock) =>
        new PurgePacer(DEFAULT_PACER_SETTINGS, clock, async (ms) => {
          if (insideLock) pausesInsideLock.push(ms);
          clock.advance(ms);
        }),
    });
    const whileAllowed = gate.whileAllowed.bind(gate);
    gate.whileAllowed = async (purge, step) =>
      whileAllowed(purge, async () => {
        insideLock = true;
        try {
          return await step();
        } finally {
          insideLock = false;
        }
      });
    synapse.events = [...Array.from({ length: 10 }, (_, i) => message(`$${i + 1}`, 1_000 + i)), message("$new", 3_000)];
    await ledger.create(record);
    expect(await executor.drive(record)).toMatchObject({ state: "complete", eventCount: 10 });
    expect(synapse.purges).toEqual(["$4", "$7", "$10", "$new"]);
    expect(pausesInsideLock).toEqual([]);
  });
});
