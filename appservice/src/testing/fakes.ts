import type { SessionStore, StoredSession } from "../domain/access/sign-in.js";
import type { AuditEvent, AuditQueryInput, AuditRecorder, AuditStore } from "../domain/audit/audit-trail.js";
import { type ChainedAuditRecord, type ChainHead, GENESIS_HASH, hashRecord } from "../domain/audit/chain.js";
import type { Clock } from "../domain/clock.js";
import type { InboxItem, InboxStore, Quarantined } from "../domain/intake/inbox.js";
import type { MatrixEvent } from "../domain/matrix-event.js";
import type { Room, RoomStore } from "../domain/rooms/room.js";
import type { RoomKind } from "../http/contract.js";

/** Hand-written fakes for unit tests: the real adapters are tested against real services. */

export class FakeClock implements Clock {
  constructor(private current = new Date("2026-11-22T09:00:00Z")) {}
  now(): Date {
    return new Date(this.current);
  }
  advance(ms: number): void {
    this.current = new Date(this.current.getTime() + ms);
  }
}

export class RecordingAudit implements AuditRecorder {
  readonly events: AuditEvent[] = [];
  async record(event: AuditEvent): Promise<void> {
    this.events.push(event);
  }
  actions(): string[] {
    return this.events.map((event) => event.action);
  }
}

/**
 * An audit trail whose appends can be held open until released, or refused: for work that must
 * neither wait for its audit entries nor lose them. An entry is kept once its append finishes.
 */
export class GatedAudit extends RecordingAudit {
  private gate: Promise<void> | null = null;
  private open = () => {};
  /** The error an append of this event fails with; null: it is kept. */
  refuse: (event: AuditEvent) => Error | null = () => null;

  hold(): void {
    this.gate = new Promise((resolve) => {
      this.open = resolve;
    });
  }

  release(): void {
    this.open();
    this.gate = null;
  }

  override async record(event: AuditEvent): Promise<void> {
    if (this.gate) await this.gate;
    const refused = this.refuse(event);
    if (refused) throw refused;
    await super.record(event);
  }
}

export class MemoryAuditStore implements AuditStore {
  readonly records: ChainedAuditRecord[] = [];
  headRecord: ChainHead | null = null;
  async append(event: Required<AuditEvent>): Promise<ChainedAuditRecord> {
    const prevHash = this.headRecord?.hash ?? GENESIS_HASH;
    const record = { seq: (this.headRecord?.seq ?? 0) + 1, at: new Date(), ...event };
    const chained = { ...record, prevHash, hash: hashRecord(record, prevHash) };
    this.records.push(chained);
    this.headRecord = { seq: chained.seq, hash: chained.hash };
    return chained;
  }
  async page(query: AuditQueryInput): Promise<ChainedAuditRecord[]> {
    return [...this.records]
      .reverse()
      .filter((r) => (query.before === undefined || r.seq < query.before) && (query.action === undefined || r.action === query.action))
      .slice(0, query.limit);
  }
  async *scan(batchSize: number): AsyncIterable<ChainedAuditRecord[]> {
    for (let i = 0; i < this.records.length; i += batchSize) yield this.records.slice(i, i + batchSize);
  }
  async head(): Promise<ChainHead | null> {
    return this.headRecord;
  }
}

export class MemoryRoomStore implements RoomStore {
  readonly rooms = new Map<string, Room>();
  async get(roomId: string): Promise<Room | null> {
    return this.rooms.get(roomId) ?? null;
  }
  async list(): Promise<Room[]> {
    return [...this.rooms.values()];
  }
  async countByKind(): Promise<Record<RoomKind | "unclassified", number>> {
    const counts = { clinical: 0, operational: 0, unclassified: 0 };
    for (const room of this.rooms.values()) counts[room.kind ?? "unclassified"]++;
    return counts;
  }
  async upsert(roomId: string, fields: Partial<Omit<Room, "roomId">>): Promise<Room> {
    const base: Room = this.rooms.get(roomId) ?? {
      roomId,
      name: null,
      kind: null,
      encrypted: false,
      botMembership: "invite",
      classifiedBy: null,
      classifiedAt: null,
    };
    const defined = Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined));
    const room = { ...base, ...defined };
    this.rooms.set(roomId, room);
    return room;
  }
}

export class MemoryInboxStore implements InboxStore {
  readonly transactions = new Map<string, Date>();
  readonly items = new Map<number, InboxItem & { failed: boolean }>();
  readonly quarantined: Quarantined[] = [];
  private nextId = 1;
  async accept(txnId: string, events: MatrixEvent[], quarantined: Quarantined[]): Promise<InboxItem[] | null> {
    if (this.transactions.has(txnId)) return null;
    this.transactions.set(txnId, new Date());
    this.quarantined.push(...quarantined);
    return events.map((event) => {
      const item = { id: this.nextId++, event, attempts: 0 };
      this.items.set(item.id, { ...item, failed: false });
      return item;
    });
  }
  async pending(limit: number): Promise<InboxItem[]> {
    return [...this.items.values()].filter((item) => !item.failed).slice(0, limit);
  }
  async done(ids: number[]): Promise<void> {
    for (const id of ids) this.items.delete(id);
  }
  async failed(id: number, _error: string, giveUp: boolean): Promise<void> {
    const item = this.items.get(id);
    if (item) this.items.set(id, { ...item, attempts: item.attempts + 1, failed: giveUp });
  }
  async lastTransactionAt(): Promise<Date | null> {
    return [...this.transactions.values()].at(-1) ?? null;
  }
  async pruneTransactions(): Promise<number> {
    return 0;
  }
}

export function messageEvent(overrides: Partial<MatrixEvent> & { body?: string } = {}): MatrixEvent {
  const { body = "hello", ...rest } = overrides;
  return {
    event_id: `$${Math.random().toString(36).slice(2)}`,
    room_id: "!room:trust-a.test",
    sender: "@alice:trust-a.test",
    type: "m.room.message",
    origin_server_ts: Date.parse("2026-11-22T09:00:00Z"),
    content: { msgtype: "m.text", body },
    ...rest,
  };
}

/** Portal sessions in memory. */
export class MemorySessions implements SessionStore {
  readonly rows = new Map<string, StoredSession>();
  async create(session: StoredSession) {
    this.rows.set(session.tokenHash, session);
  }
  async find(hash: string) {
    return this.rows.get(hash) ?? null;
  }
  async delete(hash: string) {
    this.rows.delete(hash);
  }
  async deleteExpired() {
    return 0;
  }
  async live(now: Date) {
    return [...this.rows.values()].filter((row) => row.expiresAt > now);
  }
  async liveUsers(now: Date) {
    return [...new Set([...this.rows.values()].filter((row) => row.expiresAt > now).map((row) => row.userId))];
  }
  async deleteForUser(userId: string) {
    const mine = [...this.rows.values()].filter((row) => row.userId === userId);
    for (const row of mine) this.rows.delete(row.tokenHash);
    return mine.length;
  }
}
