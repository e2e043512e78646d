import type { AuditRecorder } from "../audit/audit-trail.js";
import type { Clock } from "../clock.js";
import type { MatrixEvent } from "../matrix-event.js";
import { mediaSentBy } from "./media.js";
import type {
  CapturedEvents,
  DeletionGate,
  GateOutcome,
  HistoryPurger,
  MediaDeleter,
  MediaReferenceIndex,
  PurgeLedger,
  PurgeRecord,
  RetentionEventIndex,
  RetentionNotifier,
  RoomHistoryReader,
} from "./ports.js";
import type { PurgePacer } from "./purge-pacer.js";
import { isMessage, PurgeSlicer } from "./purge-slices.js";

export interface PurgeExecutorDeps {
  ledger: PurgeLedger;
  history: RoomHistoryReader;
  purger: HistoryPurger;
  media: MediaDeleter;
  references: MediaReferenceIndex;
  gate: DeletionGate;
  notifier: RetentionNotifier;
  index: RetentionEventIndex;
  captured: CapturedEvents;
  audit: AuditRecorder;
  clock: Clock;
  botUserId: string;
  /** Wait between status polls of a running purge. */
  pollIntervalMs: number;
  /** Give up waiting (the purge stays open for the next sweep) after this long. */
  pollTimeoutMs: number;
  /** The first status poll of a purge call (default 50 ms); the wait then doubles up to pollIntervalMs. */
  firstPollMs?: number;
  /**
   * Planned messages deleted per purge_history call. Synapse purges in one transaction that
   * holds the room's pagination lock; small slices keep each one short, and let a legal hold
   * placed while a big room is being purged stop what is left.
   */
  sliceEvents?: number;
  /** Paces steps by Synapse's answer times (absent: no pacing). */
  pacer?: PurgePacer;
  sleep?: (ms: number) => Promise<void>;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The planned messages as they stand in the room's timeline (oldest first). */
function plannedIn(timeline: readonly MatrixEvent[], record: PurgeRecord, botUserId: string): MatrixEvent[] {
  if (record.eventIds) {
    const planned = new Set(record.eventIds);
    return timeline.filter((event) => planned.has(event.event_id));
  }
  // A record written before the planned events were kept: what was sent before the first event after its cutoff.
  const boundary = timeline.findIndex((event) => event.origin_server_ts > record.cutoff.getTime());
  return (boundary === -1 ? timeline : timeline.slice(0, boundary)).filter((event) => isMessage(event, botUserId));
}

/**
 * The event the purge keeps from: the first one after the last planned message. Synapse deletes
 * everything before it, so exactly the planned messages go (with the bot's notices and state
 * between them); a message posted after the plan, even one sent a moment ago, comes after it.
 */
function firstEventAfter(timeline: readonly MatrixEvent[], planned: readonly MatrixEvent[]): string | null {
  const last = planned.at(-1);
  if (!last) return null;
  const index = timeline.findIndex((event) => event.event_id === last.event_id);
  return timeline[index + 1]?.event_id ?? null;
}

export function removalNotice(record: Pick<PurgeRecord, "eventCount" | "policyName" | "cutoff">): string {
  const n = record.eventCount ?? 0;
  return `${n} message${n === 1 ? "" : "s"} sent up to ${record.cutoff.toISOString().replace("T", " ").slice(0, 16)} UTC ${n === 1 ? "was" : "were"} removed under the retention policy "${record.policyName}".`;
}

export const CALLED_OFF_NOTICE = "The removal of messages announced above was called off: they are kept.";

export function stoppedPartWayNotice(deleted: number, planned: number): string {
  return `The removal of messages announced above was stopped part-way: ${deleted} of the ${planned} messages had been removed; the other ${planned - deleted} are kept.`;
}

/**
 * Drives one purge through its states. Each step is saved before the next begins, so after a
 * crash the same record resumes where it stopped: the notice is posted with an idempotency key,
 * a purge whose id was saved is polled rather than started again, and one whose start was not
 * confirmed is first checked against the room's history.
 */
export class PurgeExecutor {
  private readonly sleep: (ms: number) => Promise<void>;

  private readonly slices: PurgeSlicer;

  constructor(private readonly deps: PurgeExecutorDeps) {
    this.sleep = deps.sleep ?? defaultSleep;
    this.slices = new PurgeSlicer(deps.history, deps.botUserId, deps.sliceEvents ?? Number.POSITIVE_INFINITY);
  }

  /** Returns the record as it stands when done (complete) or when it must wait for a later sweep. */
  async drive(start: PurgeRecord): Promise<PurgeRecord | null> {
    let record = start;
    for (;;) {
      const current = record;
      const next = await (this.deps.pacer ? this.deps.pacer.run(() => this.step(current)) : this.step(current));
      if (next === null) return null;
      if (next === record) return record;
      // A step that leaves a purge running waited pollTimeoutMs for it: the next sweep polls it.
      if (next.state === "purging") return next;
      record = next;
      if (record.state === "complete" || record.state === "failed" || record.state === "stopped") return record;
    }
  }

  private async save(record: PurgeRecord, fields: Partial<PurgeRecord>): Promise<PurgeRecord> {
    await this.deps.ledger.update(record.id, fields);
    return { ...record, ...fields };
  }

  /** One transition; the same record back means "wait", null means "nothing to delete after all". */
  private async step(record: PurgeRecord): Promise<PurgeRecord | null> {
    switch (record.state) {
      case "planned":
        return this.enumerate(record);
      case "enumerated":
        return this.notice(record);
      case "noticed":
        return this.nextSlice(record);
      case "purging":
        return this.poll(record);
      case "purged":
        return this.finish(record);
      default:
        return record;
    }
  }

  /**
   * One slice. The history left before the purge's end is read again (paced: a rest after each
   * page), then, under the room's lock with the hold and policy read again, the next purge call is
   * made. Each call takes at most `sliceEvents` planned messages, and only planned ones: a message
   * not planned before the slice's end stops the deletion, as for a purge in one call. The reading
   * and its rests stay outside the lock, so a legal hold being placed waits for a purge call at
   * most, never for a rest; it stops whatever slice comes after it.
   */
  private async nextSlice(record: PurgeRecord): Promise<PurgeRecord> {
    const finalKeepFrom = record.keepFromEventId;
    if (!finalKeepFrom) throw new Error(`purge ${record.id} has no event to keep from`);
    // Each page of history is paced where it is read (the Synapse adapter).
    const slice = await this.slices.next(record, finalKeepFrom);
    if (slice.kind === "done") {
      this.slices.forget(record.id);
      return slice.left.length === 0 ? this.save(record, { state: "purged" }) : this.keptAtBoundary(record, slice.left);
    }
    if (slice.kind === "intruder")
      return this.stopAt(record, `message ${slice.eventId} now sits among the planned messages (sent since they were counted): the deletion is planned again`);
    // The rest owed for the last page (or the last purge call) comes before the lock.
    await this.deps.pacer?.rested();
    const started = await this.deps.gate.whileAllowed(record, async () => {
      const counted = await this.save(record, { purgeRequests: record.purgeRequests + 1 });
      const startedAt = this.deps.clock.now().getTime();
      const purgeId = await this.deps.purger.startPurge(record.roomId, slice.keepFrom);
      return { counted, purgeId, startedAt };
    });
    if (!started.allowed) return this.stopAt(record, started.reason);
    const value = started.value;
    const purging = await this.save(value.counted, { state: "purging", purgeId: value.purgeId });
    // The slice's purge is waited for in the same step: with the pacer's one step at a time, no
    // other room's history is read while Synapse purges.
    return this.poll(purging, value.startedAt);
  }

  /**
   * Planned messages that share their depth with the event the purge keeps from cannot be
   * purged without it (nor without what follows it): they are kept, and the deletion record
   * counts only the messages that are gone.
   */
  private async keptAtBoundary(record: PurgeRecord, left: readonly string[]): Promise<PurgeRecord> {
    const kept = new Set(left);
    const deleted = (record.eventIds ?? []).filter((eventId) => !kept.has(eventId));
    const held = await this.deps.captured.capturedAmong(record.roomId, deleted);
    return this.save(record, {
      state: "purged",
      eventIds: deleted,
      eventCount: deleted.length,
      plannedCount: record.plannedCount ?? record.eventIds?.length ?? null,
      unfiledCount: record.includesUnfiled ? deleted.filter((eventId) => !held.has(eventId)).length : 0,
      error: `${left.length} planned message(s) sent at the same moment as the first message kept could not be deleted without it: they are kept`,
    });
  }

  /** Reads the room from what earlier slices left, up to the end of the next slice. */
  /**
   * A hold (or a policy change, or an unplanned message) met between two slices. What earlier
   * slices deleted stays deleted: it becomes the deletion record, counted from the room's history
   * (the planned messages no longer in it); the rest is kept and the room is told so.
   */
  private async stopAt(record: PurgeRecord, reason: string): Promise<PurgeRecord> {
    this.slices.forget(record.id);
    if (record.purgeRequests === 0 || !record.eventIds || !record.keepFromEventId) return this.stop(record, reason);
    const finalKeepFrom = record.keepFromEventId;
    const planned = new Set(record.eventIds);
    const left = new Set(
      (await this.deps.history.eventsOldestFirst(record.roomId, (event) => event.event_id === finalKeepFrom))
        .filter((event) => planned.has(event.event_id))
        .map((event) => event.event_id),
    );
    const deleted = record.eventIds.filter((eventId) => !left.has(eventId));
    if (deleted.length === 0) return this.stop(record, reason);
    const plannedCount = record.plannedCount ?? record.eventIds.length;
    if (record.noticeEventId) {
      await this.deps.notifier.postNotice(record.roomId, stoppedPartWayNotice(deleted.length, plannedCount), `retention-stopped-part-way:${record.id}`);
    }
    await this.deps.audit.record({
      actor: record.actor,
      action: "retention.purge_stopped",
      target: record.roomId,
      details: {
        deletionId: record.id,
        policyId: record.policyId,
        upTo: record.cutoff.toISOString(),
        reason,
        deletedEvents: deleted.length,
        keptEvents: plannedCount - deleted.length,
      },
    });
    const held = await this.deps.captured.capturedAmong(record.roomId, deleted);
    return this.save(record, {
      state: "purged",
      eventIds: deleted,
      eventCount: deleted.length,
      plannedCount,
      unfiledCount: record.includesUnfiled ? deleted.filter((eventId) => !held.has(eventId)).length : 0,
      error: `Stopped part-way: ${reason}`,
    });
  }

  private async notice(record: PurgeRecord): Promise<PurgeRecord> {
    const posted = await this.deps.gate.whileAllowed(record, () =>
      this.deps.notifier.postNotice(record.roomId, removalNotice(record), `retention-notice:${record.id}`),
    );
    if (!posted.allowed) return this.stop(record, posted.reason);
    let keepFromEventId = record.keepFromEventId;
    if (!keepFromEventId) {
      // Synapse never purges a room's latest event, and the last planned message was the latest:
      // keep from whatever now follows it (the notice, or a message sent since the plan).
      const planned = new Set(record.eventIds ?? []);
      const timeline = (await this.deps.history.eventsNewestFirst(record.roomId, (event) => planned.has(event.event_id))).reverse();
      keepFromEventId = firstEventAfter(timeline, plannedIn(timeline, record, this.deps.botUserId)) ?? posted.value;
    }
    return this.save(record, { state: "noticed", noticeEventId: posted.value, keepFromEventId });
  }

  private async stop(record: PurgeRecord, reason: string): Promise<PurgeRecord> {
    if (record.noticeEventId) {
      // The room was told these messages were removed; they are not. The reason stays out of the
      // room: a legal hold's reason is not for its members.
      await this.deps.notifier.postNotice(record.roomId, CALLED_OFF_NOTICE, `retention-called-off:${record.id}`);
    }
    await this.deps.audit.record({
      actor: record.actor,
      action: "retention.purge_stopped",
      target: record.roomId,
      details: { deletionId: record.id, policyId: record.policyId, upTo: record.cutoff.toISOString(), reason },
    });
    return this.save(record, { state: "stopped", error: reason });
  }

  private async enumerate(record: PurgeRecord): Promise<PurgeRecord | null> {
    // Only the history up to the first event after the cutoff matters (that event is kept).
    const cutoff = record.cutoff.getTime();
    const timeline = await this.deps.history.eventsOldestFirst(record.roomId, (event) => event.origin_server_ts > cutoff);
    const doomed = plannedIn(timeline, { ...record, eventIds: null }, this.deps.botUserId);
    if (doomed.length === 0) {
      // Already gone (or never reached Synapse's history): nothing to delete, nothing to record.
      await this.deps.ledger.remove(record.id);
      await this.deps.index.forgetUpTo(record.roomId, record.cutoff);
      return null;
    }
    const eventIds = doomed.map((event) => event.event_id);
    // In encrypted events the media URI is inside the ciphertext: intake saw it decrypted.
    const media = new Set(await this.deps.references.sentBy(eventIds));
    for (const event of doomed) for (const uri of mediaSentBy(event)) media.add(uri);
    // Filed means captured: whatever no filing holds is counted as unfiled, wherever it sits in time.
    const held = await this.deps.captured.capturedAmong(record.roomId, eventIds);
    // Planning knows only what the index saw or a filing named; history also holds what neither
    // did (sent before the bot joined, a batch lost in a crash). Such messages join the index
    // now, so the gate's re-planning before the notice counts them as unfiled, not as filed.
    const notHeld = doomed.filter((event) => !held.has(event.event_id));
    if (notHeld.length > 0)
      await this.deps.index.recordMessages(notHeld.map((event) => ({ roomId: record.roomId, eventId: event.event_id, ts: new Date(event.origin_server_ts) })));
    return this.save(record, {
      state: "enumerated",
      eventCount: doomed.length,
      unfiledCount: record.includesUnfiled ? notHeld.length : 0,
      fromTs: new Date(Math.min(...doomed.map((event) => event.origin_server_ts))),
      eventIds,
      plannedCount: eventIds.length,
      media: [...media].sort(),
      keepFromEventId: firstEventAfter(timeline, doomed),
    });
  }

  /**
   * Waits for the record's purge call, then reports to the pacer how long it kept Synapse busy:
   * from `startedAt` when this step made the call, else from when this wait began (a purge
   * resumed from an earlier sweep or process is not charged for the time between them).
   */
  private async poll(record: PurgeRecord, startedAt = this.deps.clock.now().getTime()): Promise<PurgeRecord> {
    if (!record.purgeId) return this.save(record, { state: "noticed" });
    const deadline = this.deps.clock.now().getTime() + this.deps.pollTimeoutMs;
    // A slice is often done in a few tens of milliseconds: ask soon, then less and less often,
    // so a sweep of many small slices is not made of waiting.
    let wait = Math.min(this.deps.pollIntervalMs, this.deps.firstPollMs ?? 50);
    for (;;) {
      // A purge is never finished the instant it starts: wait before asking.
      await this.sleep(wait);
      wait = Math.min(this.deps.pollIntervalMs, wait * 2);
      const status = await this.deps.purger.purgeStatus(record.purgeId);
      const timedOut = this.deps.clock.now().getTime() > deadline;
      if (status !== "active" || timedOut) this.deps.pacer?.worked(this.deps.clock.now().getTime() - startedAt);
      // Done, or forgotten by Synapse (e.g. it restarted): the next slice reads what is left.
      if (status === "complete" || status === "unknown") return this.save(record, { state: "noticed" });
      if (status === "failed") return this.save(record, { state: "noticed", error: `purge ${record.purgeId} failed in Synapse` });
      if (timedOut) return record;
    }
  }

  private async finish(record: PurgeRecord): Promise<PurgeRecord> {
    const purged = record.eventIds ?? [];
    const partWay = record.plannedCount !== null && purged.length < record.plannedCount;
    // Checked now, after the purge: a message kept anywhere (a held room above all) that sent or
    // mentions the media keeps it, even one posted while this purge ran.
    const stillNeeded = await this.deps.references.stillReferenced(record.media, purged);
    const doomedMedia = record.media.filter((uri) => !stillNeeded.has(uri));
    // Deleting media is a deletion too: a hold placed since the purge call (or while the process
    // was down before this step) keeps the room's files, though its messages are gone. Which file
    // went with which deleted message is not kept, so a deletion stopped part-way keeps them all.
    const outcome: GateOutcome<number> = partWay
      ? { allowed: false, reason: "the deletion stopped part-way: the room's files are kept" }
      : doomedMedia.length === 0
        ? { allowed: true, value: 0 }
        : await this.deps.gate.whileAllowed(record, async () => {
            let count = 0;
            for (const uri of doomedMedia) if (await this.deps.media.deleteMedia(uri)) count++;
            return count;
          });
    const deleted = outcome.allowed ? outcome.value : 0;
    await this.deps.references.forget(purged);
    if (partWay) await this.deps.index.forgetEvents(record.roomId, purged);
    else await this.deps.index.forgetUpTo(record.roomId, record.cutoff);
    // Audited before the record is marked complete: a crash in between repeats the entry rather than losing it.
    await this.deps.audit.record({
      actor: record.actor,
      action: "retention.deleted",
      target: record.roomId,
      details: {
        deletionId: record.id,
        policyId: record.policyId,
        policy: record.policyName,
        from: record.fromTs?.toISOString() ?? null,
        upTo: record.cutoff.toISOString(),
        events: record.eventCount,
        ...(partWay ? { plannedEvents: record.plannedCount, stoppedPartWay: record.error } : {}),
        unfiledEvents: record.unfiledCount,
        media: record.media.length,
        mediaDeleted: deleted,
        ...(outcome.allowed ? {} : { mediaKept: outcome.reason }),
        filingRef: record.filingRef,
        purgeId: record.purgeId,
      },
    });
    return this.save(record, { state: "complete", mediaDeleted: deleted, completedAt: this.deps.clock.now(), error: partWay ? record.error : null });
  }
}
