import type { DataSource } from "typeorm";
import type { IncrementalState, LdapRecord } from "../domain/directory/ldap-incremental.js";

export interface LdapReadRecord {
  kind: "full" | "incremental";
  reason: string | null;
  changed: number;
}

interface StateRow {
  fingerprint: string;
  high_water: string | null;
  full_at: Date;
  last_kind: "full" | "incremental";
  last_reason: string | null;
  last_changed: number;
  read_at: Date;
}

interface EntryRow {
  kind: "person" | "group";
  dn: string;
  attributes: Record<string, string[]>;
  marker: string | null;
}

const asJson = (records: readonly LdapRecord[]) =>
  JSON.stringify(records.map((record) => ({ kind: record.kind, dn: record.dn, attributes: record.attributes, marker: record.marker })));

/** An incremental LDAP source's stored copy of the directory (one row per entry) and its high-water mark. */
export class PostgresLdapSnapshotStore {
  constructor(private readonly db: DataSource) {}

  async state(source: string): Promise<(IncrementalState & { last: LdapReadRecord; readAt: Date }) | null> {
    const [row] = (await this.db.query("SELECT * FROM directory_ldap_state WHERE source = $1", [source])) as StateRow[];
    if (!row) return null;
    return {
      highWater: row.high_water,
      fullAt: row.full_at,
      fingerprint: row.fingerprint,
      last: { kind: row.last_kind, reason: row.last_reason, changed: row.last_changed },
      readAt: row.read_at,
    };
  }

  async entries(source: string): Promise<LdapRecord[]> {
    const rows = (await this.db.query("SELECT kind, dn, attributes, marker FROM directory_ldap_entries WHERE source = $1", [source])) as EntryRow[];
    return rows.map((row) => ({ kind: row.kind, dn: row.dn, attributes: row.attributes, marker: row.marker }));
  }

  /**
   * A full read replaces the stored copy; an incremental one upserts only the changed entries and
   * deletes those that left the source's filters.
   */
  async save(source: string, read: LdapReadRecord, state: IncrementalState, records: readonly LdapRecord[], left: readonly LdapRecord[] = []): Promise<void> {
    await this.db.transaction(async (manager) => {
      if (read.kind === "full") await manager.query("DELETE FROM directory_ldap_entries WHERE source = $1", [source]);
      if (left.length > 0) {
        await manager.query(
          `DELETE FROM directory_ldap_entries d USING jsonb_to_recordset($2::jsonb) AS e(kind text, dn text)
           WHERE d.source = $1 AND d.kind = e.kind AND d.dn = e.dn`,
          [source, asJson(left)],
        );
      }
      await manager.query(
        `INSERT INTO directory_ldap_entries (source, kind, dn, attributes, marker)
         SELECT $1, e.kind, e.dn, e.attributes, e.marker FROM jsonb_to_recordset($2::jsonb) AS e(kind text, dn text, attributes jsonb, marker text)
         ON CONFLICT (source, kind, dn) DO UPDATE SET attributes = EXCLUDED.attributes, marker = EXCLUDED.marker`,
        [source, asJson(records)],
      );
      await manager.query(
        `INSERT INTO directory_ldap_state (source, fingerprint, high_water, full_at, last_kind, last_reason, last_changed, read_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, now())
         ON CONFLICT (source) DO UPDATE SET fingerprint = $2, high_water = $3, full_at = $4, last_kind = $5, last_reason = $6,
           last_changed = $7, read_at = now()`,
        [source, state.fingerprint, state.highWater, state.fullAt, read.kind, read.reason, read.changed],
      );
    });
  }
}
