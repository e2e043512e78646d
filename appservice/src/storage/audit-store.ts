import type { DataSource } from "typeorm";
import type { AuditEvent, AuditQueryInput, AuditStore } from "../domain/audit/audit-trail.js";
import { type ChainedAuditRecord, type ChainHead, GENESIS_HASH, hashRecord } from "../domain/audit/chain.js";
import { SerialQueue } from "../domain/serial-queue.js";

interface AuditRow {
  seq: string;
  at: Date;
  actor: string;
  action: string;
  target: string;
  details: Record<string, unknown>;
  prev_hash: string;
  hash: string;
}

const AUDIT_LOCK = 0x4155_4449; // "AUDI": serialises appends across Handover processes.

function toRecord(row: AuditRow): ChainedAuditRecord {
  return {
    seq: Number(row.seq),
    at: row.at,
    actor: row.actor,
    action: row.action,
    target: row.target,
    details: row.details,
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}

export class PostgresAuditStore implements AuditStore {
  /**
   * Appends from this process wait here, one transaction at a time: waiting inside the database
   * for the chain's advisory lock would hold a pooled connection each, and a burst (a directory
   * run audits every kick) would take the whole pool from the event pump and the portal. The
   * advisory lock still orders appends across processes.
   */
  private readonly appends = new SerialQueue();

  constructor(private readonly db: DataSource) {}

  append(event: Required<AuditEvent>): Promise<ChainedAuditRecord> {
    return this.appends.run(() => this.appendNow(event));
  }

  private async appendNow(event: Required<AuditEvent>): Promise<ChainedAuditRecord> {
    return this.db.transaction(async (tx) => {
      await tx.query("SELECT pg_advisory_xact_lock($1)", [AUDIT_LOCK]);
      const [head] = (await tx.query("SELECT seq, hash FROM audit_head WHERE id = 1")) as { seq: string; hash: string }[];
      const seq = head ? Number(head.seq) + 1 : 1;
      const prevHash = head?.hash ?? GENESIS_HASH;
      // A JavaScript Date has millisecond precision, which timestamptz returns unchanged.
      const at = new Date();
      const record = { seq, at, actor: event.actor, action: event.action, target: event.target, details: event.details };
      const hash = hashRecord(record, prevHash);
      await tx.query("INSERT INTO audit_log (seq, at, actor, action, target, details, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)", [
        seq,
        at,
        event.actor,
        event.action,
        event.target,
        JSON.stringify(event.details),
        prevHash,
        hash,
      ]);
      await tx.query("INSERT INTO audit_head (id, seq, hash) VALUES (1, $1, $2) ON CONFLICT (id) DO UPDATE SET seq = EXCLUDED.seq, hash = EXCLUDED.hash", [
        seq,
        hash,
      ]);
      return { ...record, prevHash, hash };
    });
  }

  async page(query: AuditQueryInput): Promise<ChainedAuditRecord[]> {
    const conditions: string[] = [];
    const params: unknown[] = [];
    if (query.before !== undefined) conditions.push(`seq < $${params.push(query.before)}`);
    if (query.action !== undefined) conditions.push(`action = $${params.push(query.action)}`);
    if (query.actor !== undefined) conditions.push(`actor = $${params.push(query.actor)}`);
    const where = conditions.length > 0 ? `WHERE ${conditions.join(" AND ")}` : "";
    const rows = (await this.db.query(`SELECT * FROM audit_log ${where} ORDER BY seq DESC LIMIT $${params.push(query.limit)}`, params)) as AuditRow[];
    return rows.map(toRecord);
  }

  async *scan(batchSize: number): AsyncIterable<ChainedAuditRecord[]> {
    let after = 0;
    for (;;) {
      const rows = (await this.db.query("SELECT * FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2", [after, batchSize])) as AuditRow[];
      if (rows.length === 0) return;
      const batch = rows.map(toRecord);
      yield batch;
      after = batch[batch.length - 1]?.seq ?? after;
    }
  }

  async head(): Promise<ChainHead | null> {
    const [row] = (await this.db.query("SELECT seq, hash FROM audit_head WHERE id = 1")) as { seq: string; hash: string }[];
    return row ? { seq: Number(row.seq), hash: row.hash } : null;
  }
}
