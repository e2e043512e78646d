import type { DataSource } from "typeorm";

/**
 * Counts an on-call engineer reads from /metrics, straight from the tables every Handover
 * process shares. Each is one aggregate over an indexed or small table; the metrics layer
 * reads them at most every few seconds.
 */
export class PostgresOperationalCounts {
  constructor(private readonly db: DataSource) {}

  private async byLabel(sql: string): Promise<Map<string, number>> {
    const rows = (await this.db.query(sql)) as { label: string; n: number }[];
    return new Map(rows.map((row) => [row.label, Number(row.n)]));
  }

  private async one(sql: string): Promise<number> {
    const [row] = (await this.db.query(sql)) as { n: number | string | null }[];
    return Number(row?.n ?? 0);
  }

  /** Deletion records in the purge ledger, by state (complete ones are the evidence). */
  purgesByState(): Promise<Map<string, number>> {
    return this.byLabel("SELECT state AS label, count(*)::int AS n FROM retention_purges GROUP BY state");
  }

  /** Messages deleted by completed purges. */
  purgedEvents(): Promise<number> {
    return this.one("SELECT coalesce(sum(event_count), 0)::bigint AS n FROM retention_purges WHERE state = 'complete'");
  }

  /** Rooms whose open purge last failed (kept open with its error, tried again next sweep). */
  roomsWithFailingPurges(): Promise<number> {
    return this.one("SELECT count(DISTINCT room_id)::int AS n FROM retention_purges WHERE state NOT IN ('complete', 'failed') AND error IS NOT NULL");
  }

  /** Indexed messages no filing captured: what retention keeps until filed or a policy allows. */
  unfiledMessages(): Promise<number> {
    return this.one(`
      SELECT count(*)::bigint AS n FROM retention_events e
      WHERE NOT EXISTS (SELECT 1 FROM filed_range_events c WHERE c.room_id = e.room_id AND c.event_id = e.event_id AND c.captured)`);
  }

  filingsByStatus(): Promise<Map<string, number>> {
    return this.byLabel("SELECT status AS label, count(*)::int AS n FROM records_filings GROUP BY status");
  }

  /** How long the oldest filing still being sent or retried has waited (0 when none). */
  oldestPendingFilingSeconds(): Promise<number> {
    return this.one("SELECT coalesce(extract(epoch FROM now() - min(requested_at)), 0) AS n FROM records_filings WHERE status IN ('sending', 'retrying')");
  }

  directoryRunsByStatus(): Promise<Map<string, number>> {
    return this.byLabel("SELECT status AS label, count(*)::int AS n FROM directory_runs GROUP BY status");
  }

  /** Seconds the held run (at most one) has waited for a decision; 0 when none is held. */
  heldRunAgeSeconds(): Promise<number> {
    return this.one("SELECT coalesce(extract(epoch FROM now() - min(started_at)), 0) AS n FROM directory_runs WHERE status = 'held'");
  }
}
