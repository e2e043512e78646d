import type { DataSource } from "typeorm";
import type { InboxItem, InboxStore, Quarantined } from "../domain/intake/inbox.js";
import type { MatrixEvent } from "../domain/matrix-event.js";

export class PostgresInboxStore implements InboxStore {
  constructor(private readonly db: DataSource) {}

  async accept(txnId: string, events: MatrixEvent[], quarantined: Quarantined[]): Promise<InboxItem[] | null> {
    return this.db.transaction(async (tx) => {
      const inserted = (await tx.query(
        "INSERT INTO appservice_transactions (txn_id, event_count) VALUES ($1, $2) ON CONFLICT (txn_id) DO NOTHING RETURNING txn_id",
        [txnId, events.length + quarantined.length],
      )) as unknown[];
      if (inserted.length === 0) return null;
      if (quarantined.length > 0) {
        await tx.query(
          "INSERT INTO quarantined_events (txn_id, reason, event) SELECT $1, q.reason, q.event FROM jsonb_to_recordset($2::jsonb) AS q(reason text, event jsonb)",
          [txnId, JSON.stringify(quarantined.map((q) => ({ reason: q.reason, event: q.event ?? null })))],
        );
      }
      if (events.length === 0) return [];
      // One statement for the whole transaction: the acknowledgement waits on this insert.
      const rows = (await tx.query(
        "INSERT INTO inbound_events (txn_id, event) SELECT $1, e FROM jsonb_array_elements($2::jsonb) WITH ORDINALITY AS t(e, n) ORDER BY n RETURNING id",
        [txnId, JSON.stringify(events)],
      )) as { id: string }[];
      return rows.map((row, i) => ({ id: Number(row.id), event: events[i] as MatrixEvent, attempts: 0 }));
    });
  }

  async pending(limit: number): Promise<InboxItem[]> {
    const rows = (await this.db.query("SELECT id, event, attempts FROM inbound_events WHERE failed_at IS NULL ORDER BY id LIMIT $1", [limit])) as {
      id: string;
      event: MatrixEvent;
      attempts: number;
    }[];
    return rows.map((row) => ({ id: Number(row.id), event: row.event, attempts: row.attempts }));
  }

  async done(ids: number[]): Promise<void> {
    await this.db.query("DELETE FROM inbound_events WHERE id = ANY($1::bigint[])", [ids]);
  }

  async failed(id: number, error: string, giveUp: boolean): Promise<void> {
    await this.db.query("UPDATE inbound_events SET attempts = attempts + 1, last_error = $2, failed_at = CASE WHEN $3 THEN now() ELSE NULL END WHERE id = $1", [
      id,
      error.slice(0, 2000),
      giveUp,
    ]);
  }

  async lastTransactionAt(): Promise<Date | null> {
    const [row] = (await this.db.query("SELECT max(received_at) AS at FROM appservice_transactions")) as { at: Date | null }[];
    return row?.at ?? null;
  }

  async pruneTransactions(olderThan: Date): Promise<number> {
    const [, count] = (await this.db.query("DELETE FROM appservice_transactions WHERE received_at < $1", [olderThan])) as [unknown, number];
    return count;
  }
}
