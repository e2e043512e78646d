import { HandoverError } from "../domain/errors.js";
import type { MatrixEvent } from "../domain/matrix-event.js";
import type { LegalHold, RoomRetentionFacts, WarningDue } from "../domain/retention/planner.js";
import type { RetentionPolicy } from "../domain/retention/policy.js";
import { sameScope } from "../domain/retention/policy-service.js";
import type {
  CapturedEvents,
  HistoryPurger,
  HoldStore,
  MediaDeleter,
  PolicyStore,
  PublishedStateLedger,
  PurgeLedger,
  PurgeRecord,
  PurgeStatus,
  RetentionEventIndex,
  RetentionFactsSource,
  RetentionNotifier,
  RetentionStatePublisher,
  RoomDeletionLock,
  RoomHistoryReader,
  WarningLedger,
} from "../domain/retention/ports.js";

type RoomKind = RoomRetentionFacts["kind"];

/** Hand-written fakes of retention's ports, with the rules of the Postgres stores they stand for. */

export class MemoryPurgeLedger implements PurgeLedger {
  readonly rows = new Map<string, PurgeRecord>();
  async create(record: PurgeRecord) {
    this.rows.set(record.id, record);
  }
  async update(id: string, fields: Partial<PurgeRecord>) {
    this.rows.set(id, { ...(this.rows.get(id) as PurgeRecord), ...fields });
  }
  async open() {
    return [...this.rows.values()].filter((row) => row.state !== "complete" && row.state !== "failed" && row.state !== "stopped");
  }
  async completed() {
    return [...this.rows.values()].filter((row) => row.state === "complete");
  }
  async remove(id: string) {
    this.rows.delete(id);
  }
  forRoom(roomId: string): PurgeRecord[] {
    return [...this.rows.values()].filter((row) => row.roomId === roomId);
  }
}

/** One policy per scope, as the table's unique index keeps it. */
export class MemoryPolicyStore implements PolicyStore {
  readonly policies = new Map<string, RetentionPolicy>();
  async list() {
    return [...this.policies.values()];
  }
  async get(id: string) {
    return this.policies.get(id) ?? null;
  }
  async save(policy: RetentionPolicy) {
    const clash = [...this.policies.values()].find((other) => other.id !== policy.id && sameScope(other.scope, policy.scope));
    if (clash) throw new HandoverError("CONFLICT", `Policy ${clash.name} already has this scope`);
    this.policies.set(policy.id, policy);
    return policy;
  }
  async remove(id: string) {
    return this.policies.delete(id);
  }
}

export class MemoryHoldStore implements HoldStore {
  readonly holds = new Map<string, LegalHold>();
  async get(roomId: string) {
    return this.holds.get(roomId) ?? null;
  }
  async list() {
    return [...this.holds.values()];
  }
  async put(hold: LegalHold) {
    this.holds.set(hold.roomId, hold);
  }
  async lift(roomId: string) {
    const hold = this.holds.get(roomId) ?? null;
    this.holds.delete(roomId);
    return hold;
  }
}

/** Runs each room's deletion steps one after another, as the advisory lock does across processes. */
export class MemoryRoomDeletionLock implements RoomDeletionLock {
  private readonly tails = new Map<string, Promise<unknown>>();
  whileLocked<T>(roomId: string, action: () => Promise<T>): Promise<T> {
    const run = (this.tails.get(roomId) ?? Promise.resolve()).then(action);
    this.tails.set(
      roomId,
      run.catch(() => undefined),
    );
    return run;
  }
}

interface IndexedRoom {
  name: string | null;
  kind: RoomKind;
  spaceIds: Set<string>;
  events: Map<string, number>;
}

interface MemoryFiling {
  roomId: string;
  filingRef: string;
  filedAt: Date;
  captured: Set<string>;
}

interface MemoryWarning extends WarningDue {
  roomId: string;
  unfiledCount: number;
}

const newest = (values: readonly number[]) => (values.length === 0 ? null : Math.max(...values));
const oldest = (values: readonly number[]) => (values.length === 0 ? null : Math.min(...values));
const dateOrNull = (ms: number | null) => (ms === null ? null : new Date(ms));

/**
 * The retention index (messages Handover saw), the filings' captured events, the warnings sent
 * and the legal holds, turned into planning facts by the rules of retention-facts-store.ts:
 * filed means captured, and a filing releases nothing from the oldest uncaptured message on.
 */
export class MemoryRetentionIndex implements RetentionFactsSource, RetentionEventIndex, WarningLedger, CapturedEvents {
  readonly rooms = new Map<string, IndexedRoom>();
  readonly filings: MemoryFiling[] = [];
  readonly warnings: MemoryWarning[] = [];

  constructor(private readonly holds: HoldStore) {}

  room(roomId: string, kind: RoomKind, spaceIds: readonly string[] = []): void {
    this.rooms.set(roomId, { name: roomId, kind, spaceIds: new Set(spaceIds), events: new Map() });
  }

  /** The bot left the room: it has no facts for it any more. */
  forgetRoom(roomId: string): void {
    this.rooms.delete(roomId);
  }

  file(roomId: string, filingRef: string, filedAt: Date, eventIds: readonly string[]): void {
    this.filings.push({ roomId, filingRef, filedAt, captured: new Set(eventIds) });
  }

  async roomFacts(now: Date, roomIds?: readonly string[]): Promise<RoomRetentionFacts[]> {
    const ids = roomIds ?? [...this.rooms.keys()];
    const facts: RoomRetentionFacts[] = [];
    for (const roomId of ids) {
      const room = this.rooms.get(roomId);
      if (room) facts.push(this.factsOf(roomId, room, now, await this.holds.get(roomId)));
    }
    return facts;
  }

  private factsOf(roomId: string, room: IndexedRoom, now: Date, hold: LegalHold | null): RoomRetentionFacts {
    const events = [...room.events].map(([eventId, ts]) => ({ eventId, ts }));
    const filings = this.filings.filter((filing) => filing.roomId === roomId);
    const isCaptured = (eventId: string) => filings.some((filing) => filing.captured.has(eventId));
    const unfiled = events.filter((event) => !isCaptured(event.eventId)).map((event) => event.ts);
    const oldestUnfiled = oldest(unfiled);
    const prefix = events.filter((event) => isCaptured(event.eventId) && (oldestUnfiled === null || event.ts < oldestUnfiled));
    const holding = filings.filter((filing) => prefix.some((event) => filing.captured.has(event.eventId)));
    const latest = holding.reduce<MemoryFiling | null>((top, filing) => (top === null || filing.filedAt > top.filedAt ? filing : top), null);
    const upTo = newest(prefix.map((event) => event.ts));
    const warnings = this.warnings.filter((warning) => warning.roomId === roomId);
    const coveredUpTo = newest(warnings.map((warning) => warning.coversUpTo.getTime()));
    return {
      roomId,
      name: room.name,
      kind: room.kind,
      spaceIds: [...room.spaceIds],
      hold,
      filing: latest && upTo !== null ? { upToTs: new Date(upTo), filedAt: latest.filedAt, filingRef: latest.filingRef } : null,
      eventCount: events.length,
      oldestEventTs: dateOrNull(oldest(events.map((event) => event.ts))),
      filedCount: events.length - unfiled.length,
      oldestUnfiledTs: dateOrNull(oldestUnfiled),
      warnedUpTo: dateOrNull(newest(warnings.filter((warning) => warning.dueAt <= now).map((warning) => warning.coversUpTo.getTime()))),
      warningsCoverUpTo: dateOrNull(coveredUpTo),
      oldestUnwarnedUnfiledTs: dateOrNull(oldest(unfiled.filter((ts) => coveredUpTo === null || ts > coveredUpTo))),
      pendingWarningDueAt: dateOrNull(oldest(warnings.filter((warning) => warning.dueAt > now).map((warning) => warning.dueAt.getTime()))),
    };
  }

  async countUpTo(cutoffs: readonly { roomId: string; cutoff: Date }[]): Promise<Map<string, number>> {
    return new Map(cutoffs.map(({ roomId, cutoff }) => [roomId, this.timesOf(roomId).filter((ts) => ts <= cutoff.getTime()).length]));
  }

  async countBetween(roomId: string, after: Date | null, upTo: Date): Promise<number> {
    return this.timesOf(roomId).filter((ts) => (after === null || ts > after.getTime()) && ts <= upTo.getTime()).length;
  }

  async recordMessages(rows: readonly { roomId: string; eventId: string; ts: Date }[]): Promise<void> {
    for (const row of rows) {
      const events = this.rooms.get(row.roomId)?.events;
      if (events && !events.has(row.eventId)) events.set(row.eventId, row.ts.getTime());
    }
  }

  async forgetUpTo(roomId: string, cutoff: Date): Promise<void> {
    const events = this.rooms.get(roomId)?.events;
    for (const [eventId, ts] of events ?? []) if (ts <= cutoff.getTime()) events?.delete(eventId);
  }

  async forgetEvents(roomId: string, eventIds: readonly string[]): Promise<void> {
    const events = this.rooms.get(roomId)?.events;
    for (const eventId of eventIds) events?.delete(eventId);
  }

  async linkSpace(roomId: string, spaceId: string, linked: boolean): Promise<void> {
    const spaces = this.rooms.get(roomId)?.spaceIds;
    if (linked) spaces?.add(spaceId);
    else spaces?.delete(spaceId);
  }

  async record(roomId: string, warning: WarningDue, unfiledCount: number): Promise<boolean> {
    if (await this.exists(roomId, warning.dueAt)) return false;
    this.warnings.push({ roomId, ...warning, unfiledCount });
    return true;
  }

  async exists(roomId: string, dueAt: Date): Promise<boolean> {
    return this.warnings.some((warning) => warning.roomId === roomId && warning.dueAt.getTime() === dueAt.getTime());
  }

  async capturedAmong(roomId: string, eventIds: readonly string[]): Promise<ReadonlySet<string>> {
    const filings = this.filings.filter((filing) => filing.roomId === roomId);
    return new Set(eventIds.filter((eventId) => filings.some((filing) => filing.captured.has(eventId))));
  }

  private timesOf(roomId: string): number[] {
    return [...(this.rooms.get(roomId)?.events.values() ?? [])];
  }
}

/**
 * Rooms' histories on a pretend homeserver, as the admin API shows them: purging drops the
 * messages before the kept event, notices are posted once per idempotency key, and a room can
 * be made to refuse (`refusing`) as Synapse does when the bot was kicked.
 */
export class FakeRetentionHomeserver implements RoomHistoryReader, HistoryPurger, MediaDeleter, RetentionNotifier, RetentionStatePublisher {
  readonly histories = new Map<string, MatrixEvent[]>();
  readonly refusing = new Map<string, string>();
  readonly purges: { roomId: string; keepFrom: string }[] = [];
  readonly deletedMedia: string[] = [];
  readonly published = new Map<string, Record<string, unknown>>();
  private readonly noticeIds = new Map<string, string>();
  /** Called as each purge starts: lets a test act in the middle of a sweep. */
  onPurgeStart: (roomId: string) => Promise<void> = async () => {};

  constructor(
    private readonly botUserId: string,
    private readonly now: () => Date,
  ) {}

  send(event: MatrixEvent): void {
    this.histories.set(event.room_id, [...(this.histories.get(event.room_id) ?? []), event]);
  }

  messages(roomId: string): string[] {
    return (this.histories.get(roomId) ?? []).filter((event) => event.sender !== this.botUserId).map((event) => event.event_id);
  }

  notices(roomId: string): string[] {
    return (this.histories.get(roomId) ?? []).filter((event) => event.sender === this.botUserId).map((event) => String(event.content.body));
  }

  async eventsNewestFirst(roomId: string, stop: (event: MatrixEvent) => boolean): Promise<MatrixEvent[]> {
    this.refuseIfAsked(roomId);
    const out: MatrixEvent[] = [];
    for (const event of [...(this.histories.get(roomId) ?? [])].reverse()) {
      out.push(event);
      if (stop(event)) break;
    }
    return out;
  }

  async eventsOldestFirst(roomId: string, stop: (event: MatrixEvent) => boolean): Promise<MatrixEvent[]> {
    this.refuseIfAsked(roomId);
    const out: MatrixEvent[] = [];
    for (const event of this.histories.get(roomId) ?? []) {
      out.push(event);
      if (stop(event)) break;
    }
    return out;
  }

  async startPurge(roomId: string, keepFromEventId: string): Promise<string> {
    this.refuseIfAsked(roomId);
    await this.onPurgeStart(roomId);
    const history = this.histories.get(roomId) ?? [];
    const keep = history.findIndex((event) => event.event_id === keepFromEventId);
    this.histories.set(
      roomId,
      history.filter((event, index) => index >= keep || event.state_key !== undefined),
    );
    this.purges.push({ roomId, keepFrom: keepFromEventId });
    return `purge-${this.purges.length}`;
  }

  async purgeStatus(): Promise<PurgeStatus> {
    return "complete";
  }

  async deleteMedia(mxcUri: string): Promise<boolean> {
    this.deletedMedia.push(mxcUri);
    return true;
  }

  async postNotice(roomId: string, text: string, idempotencyKey: string): Promise<string> {
    this.refuseIfAsked(roomId);
    const posted = this.noticeIds.get(idempotencyKey);
    if (posted) return posted;
    const eventId = `$notice-${this.noticeIds.size + 1}`;
    this.noticeIds.set(idempotencyKey, eventId);
    this.send({
      event_id: eventId,
      room_id: roomId,
      sender: this.botUserId,
      type: "m.room.message",
      origin_server_ts: this.now().getTime(),
      content: { msgtype: "m.notice", body: text },
    });
    return eventId;
  }

  async setState(roomId: string, _type: string, _stateKey: string, content: Record<string, unknown>): Promise<void> {
    this.published.set(roomId, content);
  }

  private refuseIfAsked(roomId: string): void {
    const refusal = this.refusing.get(roomId);
    if (refusal) throw new Error(refusal);
  }
}

export class MemoryPublishedState implements PublishedStateLedger {
  readonly rows = new Map<string, Record<string, unknown>>();
  async published() {
    return new Map(this.rows);
  }
  async markPublished(roomId: string, content: Record<string, unknown>) {
    this.rows.set(roomId, content);
  }
}
