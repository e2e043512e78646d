import type { DataSource } from "typeorm";
import type { AgreementRecord, Side } from "../domain/federation/agreement.js";
import type { AgreementStatus, AgreementTerms } from "../domain/federation/agreement-terms.js";
import type { AgreementStore } from "../domain/federation/ports.js";

interface AgreementRow {
  id: string;
  peer_server_name: string;
  peer_name: string;
  peer_ods_code: string;
  peer_contact: string;
  proposed_by: Side;
  status: AgreementStatus;
  suspended_by: Side | null;
  terms: AgreementTerms;
  created_at: Date;
  updated_at: Date;
  status_changed_by: string | null;
  reason: string | null;
}

function toRecord(row: AgreementRow): AgreementRecord {
  return {
    id: row.id,
    peer: { serverName: row.peer_server_name, name: row.peer_name, odsCode: row.peer_ods_code, contact: row.peer_contact },
    proposedBy: row.proposed_by,
    status: row.status,
    suspendedBy: row.suspended_by,
    terms: row.terms,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    statusChangedBy: row.status_changed_by,
    reason: row.reason,
  };
}

export class PostgresAgreementStore implements AgreementStore {
  constructor(private readonly db: DataSource) {}

  async get(id: string): Promise<AgreementRecord | null> {
    if (!/^[0-9a-f-]{36}$/i.test(id)) return null;
    const [row] = (await this.db.query("SELECT * FROM federation_agreements WHERE id = $1", [id])) as AgreementRow[];
    return row ? toRecord(row) : null;
  }

  async list(): Promise<AgreementRecord[]> {
    const rows = (await this.db.query("SELECT * FROM federation_agreements ORDER BY created_at DESC")) as AgreementRow[];
    return rows.map(toRecord);
  }

  async insert(r: AgreementRecord): Promise<void> {
    await this.db.query(
      `INSERT INTO federation_agreements (id, peer_server_name, peer_name, peer_ods_code, peer_contact, proposed_by, status, suspended_by, terms, created_at, updated_at, status_changed_by, reason)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
      [
        r.id,
        r.peer.serverName,
        r.peer.name,
        r.peer.odsCode,
        r.peer.contact,
        r.proposedBy,
        r.status,
        r.suspendedBy,
        JSON.stringify(r.terms),
        r.createdAt,
        r.updatedAt,
        r.statusChangedBy,
        r.reason,
      ],
    );
  }

  async update(id: string, f: Pick<AgreementRecord, "status" | "updatedAt" | "statusChangedBy" | "reason" | "suspendedBy">): Promise<void> {
    await this.db.query("UPDATE federation_agreements SET status = $2, updated_at = $3, status_changed_by = $4, reason = $5, suspended_by = $6 WHERE id = $1", [
      id,
      f.status,
      f.updatedAt,
      f.statusChangedBy,
      f.reason,
      f.suspendedBy,
    ]);
  }
}
