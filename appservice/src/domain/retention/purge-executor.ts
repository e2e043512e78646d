import type { AuditRecorder } from "../audit/audit-trail.js";
import type { Clock } from "../clock.js";
import type { MatrixEvent } from "../matrix-event.js";
import { mediaSentBy } from "./media.js";
import type {
  CapturedEvents,
  DeletionGate,
  HistoryPurger,
  MediaDeleter,
  MediaReferenceIndex,
  PurgeLedger,
  PurgeRecord,
  RetentionEventIndex,
  RetentionNotifier,
  RoomHistoryReader,
} from "./ports.js";

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
  sleep?: (ms: number) => Promise<void>;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function isMessage(event: MatrixEvent, botUserId: string): boolean {
  return event.state_key === undefined && event.sender !== botUserId;
}

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

/**
 * Drives one purge through its states. Each step is saved before the next begins, so after a
 * crash the same record resumes where it stopped: the notice is posted with an idempotency key,
 * a purge whose id was saved is polled rather than started again, and one whose start was not
 * confirmed is first checked against the room's history.
 */
export class PurgeExecutor {
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(private readonly deps: PurgeExecutorDeps) {
    this.sleep = deps.sleep ?? defaultSleep;
  }

  /** Returns the record as it stands when done (complete) or when it must wait for a later sweep. */
  async drive(start: PurgeRecord): Promise<PurgeRecord | null> {
    let record = start;
    for (;;) {
      const next = await this.step(record);
      if (next === null) return null;
      if (next === record) return record;
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
      case "noticed": {
        if (record.purgeRequests > 0 && (await this.remaining(record)) === 0) return this.save(record, { state: "purged" });
        const keepFrom = record.keepFromEventId;
        if (!keepFrom) throw new Error(`purge ${record.id} has no event to keep from`);
        const started = await this.deps.gate.whileAllowed(record, async () => {
          const intruder = await this.unplannedBefore(record, keepFrom);
          if (intruder !== null) return { intruder };
          const counted = await this.save(record, { purgeRequests: record.purgeRequests + 1 });
          return { counted, purgeId: await this.deps.purger.startPurge(record.roomId, keepFrom) };
        });
        if (!started.allowed) return this.stop(record, started.reason);
        if ("intruder" in started.value)
          return this.stop(
            record,
            `message ${started.value.intruder} now sits among the planned messages (sent since they were counted): the deletion is planned again`,
          );
        return this.save(started.value.counted, { state: "purging", purgeId: started.value.purgeId });
      }
      case "purging":
        return this.poll(record);
      case "purged":
        return this.finish(record);
      default:
        return record;
    }
  }

  private async timeline(roomId: string): Promise<MatrixEvent[]> {
    return (await this.deps.history.eventsNewestFirst(roomId, () => false)).reverse();
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
      const timeline = await this.timeline(record.roomId);
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
    const timeline = await this.timeline(record.roomId);
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
      media: [...media].sort(),
      keepFromEventId: firstEventAfter(timeline, doomed),
    });
  }

  /**
   * Synapse purges by position, and orders history by depth: a message from a server that was
   * cut off points at old events and lands among them, before the event the purge keeps from.
   * Such a message was neither planned nor announced, so the purge must not take it.
   */
  private async unplannedBefore(record: PurgeRecord, keepFrom: string): Promise<string | null> {
    if (!record.eventIds) return null;
    const planned = new Set(record.eventIds);
    const timeline = await this.timeline(record.roomId);
    const end = timeline.findIndex((event) => event.event_id === keepFrom);
    if (end === -1) return null;
    return timeline.slice(0, end).find((event) => isMessage(event, this.deps.botUserId) && !planned.has(event.event_id))?.event_id ?? null;
  }

  private async remaining(record: PurgeRecord): Promise<number> {
    return plannedIn(await this.timeline(record.roomId), record, this.deps.botUserId).length;
  }

  private async poll(record: PurgeRecord): Promise<PurgeRecord> {
    if (!record.purgeId) return this.save(record, { state: "noticed" });
    const deadline = this.deps.clock.now().getTime() + this.deps.pollTimeoutMs;
    for (;;) {
      // A purge is never finished the instant it starts: wait before asking.
      await this.sleep(this.deps.pollIntervalMs);
      const status = await this.deps.purger.purgeStatus(record.purgeId);
      if (status === "complete") return this.save(record, { state: "purged" });
      if (status === "failed") return this.save(record, { state: "noticed", error: `purge ${record.purgeId} failed in Synapse` });
      if (status === "unknown") {
        // Synapse forgot the task (e.g. it restarted): the room's history says whether it ran.
        return (await this.remaining(record)) === 0 ? this.save(record, { state: "purged" }) : this.save(record, { state: "noticed" });
      }
      if (this.deps.clock.now().getTime() > deadline) return record;
    }
  }

  private async finish(record: PurgeRecord): Promise<PurgeRecord> {
    const purged = record.eventIds ?? [];
    // Checked now, after the purge: a message kept anywhere (a held room above all) that sent or
    // mentions the media keeps it, even one posted while this purge ran.
    const stillNeeded = await this.deps.references.stillReferenced(record.media, purged);
    const doomedMedia = record.media.filter((uri) => !stillNeeded.has(uri));
    // Deleting media is a deletion too: a hold placed since the purge call (or while the process
    // was down before this step) keeps the room's files, though its messages are gone.
    const outcome =
      doomedMedia.length === 0
        ? { allowed: true as const, value: 0 }
        : await this.deps.gate.whileAllowed(record, async () => {
            let count = 0;
            for (const uri of doomedMedia) if (await this.deps.media.deleteMedia(uri)) count++;
            return count;
          });
    const deleted = outcome.allowed ? outcome.value : 0;
    await this.deps.references.forget(purged);
    await this.deps.index.forgetUpTo(record.roomId, record.cutoff);
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
        unfiledEvents: record.unfiledCount,
        media: record.media.length,
        mediaDeleted: deleted,
        ...(outcome.allowed ? {} : { mediaKept: outcome.reason }),
        filingRef: record.filingRef,
        purgeId: record.purgeId,
      },
    });
    return this.save(record, { state: "complete", mediaDeleted: deleted, completedAt: this.deps.clock.now(), error: null });
  }
}
