import type { AuditRecorder } from "../audit/audit-trail.js";
import type { Clock } from "../clock.js";
import type { MatrixEvent } from "../matrix-event.js";
import { mediaUrisOf } from "./media.js";
import type {
  CapturedEvents,
  HistoryPurger,
  MediaDeleter,
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

export function removalNotice(record: Pick<PurgeRecord, "eventCount" | "policyName" | "cutoff">): string {
  const n = record.eventCount ?? 0;
  return `${n} message${n === 1 ? "" : "s"} sent up to ${record.cutoff.toISOString().replace("T", " ").slice(0, 16)} UTC ${n === 1 ? "was" : "were"} removed under the retention policy "${record.policyName}".`;
}

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
      if (record.state === "complete" || record.state === "failed") return record;
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
      case "enumerated": {
        const noticeEventId = await this.deps.notifier.postNotice(record.roomId, removalNotice(record), `retention-notice:${record.id}`);
        // Synapse never purges a room's latest event: the notice, sent after the cutoff, keeps that place.
        return this.save(record, { state: "noticed", noticeEventId, keepFromEventId: record.keepFromEventId ?? noticeEventId });
      }
      case "noticed": {
        if (record.purgeRequests > 0 && (await this.remaining(record)) === 0) return this.save(record, { state: "purged" });
        const keepFrom = record.keepFromEventId ?? record.noticeEventId;
        if (!keepFrom) throw new Error(`purge ${record.id} has no event to keep from`);
        const counted = await this.save(record, { purgeRequests: record.purgeRequests + 1 });
        const purgeId = await this.deps.purger.startPurge(record.roomId, keepFrom);
        return this.save(counted, { state: "purging", purgeId });
      }
      case "purging":
        return this.poll(record);
      case "purged":
        return this.finish(record);
      default:
        return record;
    }
  }

  private async enumerate(record: PurgeRecord): Promise<PurgeRecord | null> {
    const cutoff = record.cutoff.getTime();
    let keepFrom: MatrixEvent | null = null;
    const doomed: MatrixEvent[] = [];
    await this.deps.history.eventsNewestFirst(record.roomId, (event) => {
      if (event.origin_server_ts > cutoff) keepFrom = event;
      else if (isMessage(event, this.deps.botUserId)) doomed.push(event);
      return false;
    });
    if (doomed.length === 0) {
      // Already gone (or never reached Synapse's history): nothing to delete, nothing to record.
      await this.deps.ledger.remove(record.id);
      await this.deps.index.forgetUpTo(record.roomId, record.cutoff);
      return null;
    }
    const media = new Set<string>();
    for (const event of doomed) mediaUrisOf(event.content, media);
    // Filed means captured: whatever no filing holds is counted as unfiled, wherever it sits in time.
    const held = record.includesUnfiled
      ? await this.deps.captured.capturedAmong(
          record.roomId,
          doomed.map((event) => event.event_id),
        )
      : null;
    return this.save(record, {
      state: "enumerated",
      eventCount: doomed.length,
      unfiledCount: held ? doomed.filter((event) => !held.has(event.event_id)).length : 0,
      fromTs: new Date(Math.min(...doomed.map((event) => event.origin_server_ts))),
      media: [...media].sort(),
      keepFromEventId: (keepFrom as MatrixEvent | null)?.event_id ?? null,
    });
  }

  private async remaining(record: PurgeRecord): Promise<number> {
    const cutoff = record.cutoff.getTime();
    const events = await this.deps.history.eventsNewestFirst(record.roomId, () => false);
    return events.filter((event) => event.origin_server_ts <= cutoff && isMessage(event, this.deps.botUserId)).length;
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
    let deleted = 0;
    for (const uri of record.media) if (await this.deps.media.deleteMedia(uri)) deleted++;
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
        filingRef: record.filingRef,
        purgeId: record.purgeId,
      },
    });
    return this.save(record, { state: "complete", mediaDeleted: deleted, completedAt: this.deps.clock.now(), error: null });
  }
}
