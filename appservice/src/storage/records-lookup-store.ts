import type { DataSource } from "typeorm";
import type { PatientLookupEntry, PatientLookupLog, PatientLookupOutcome, PatientLookupResult } from "../domain/records/patient-lookup-gate.js";

interface LookupRow {
  actor: string;
  room_id: string;
  thread_root_id: string | null;
  nhs_number_hash: string;
  outcome: string;
  via: string;
  at: Date;
}

const INSERT = `INSERT INTO records_patient_lookups (actor, room_id, thread_root_id, nhs_number_hash, outcome, via, at)
  VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id::text AS id`;

const values = (entry: PatientLookupEntry) => [entry.actor, entry.roomId, entry.threadRootId, entry.nhsNumberHash, entry.outcome, entry.via, entry.at];

/** Patient lookups by keyed hash (records_patient_lookups); the rate limit counts them. */
export class PostgresPatientLookupLog implements PatientLookupLog {
  constructor(private readonly db: DataSource) {}

  async addWithinLimit(entry: PatientLookupEntry, since: Date, max: number): Promise<string | null> {
    return this.db.transaction(async (manager) => {
      // One lookup at a time per person, so two at once cannot both take the last one left.
      await manager.query("SELECT pg_advisory_xact_lock(hashtext('handover.patient-lookup'), hashtext($1))", [entry.actor]);
      const [counted] = (await manager.query(
        "SELECT count(*)::int AS n FROM records_patient_lookups WHERE actor = $1 AND at > $2 AND outcome NOT LIKE 'refused-%'",
        [entry.actor, since],
      )) as { n: number }[];
      if ((counted?.n ?? 0) >= max) return null;
      const [row] = (await manager.query(INSERT, values(entry))) as { id: string }[];
      return row?.id ?? null;
    });
  }

  async add(entry: PatientLookupEntry): Promise<void> {
    await this.db.query(INSERT, values(entry));
  }

  async settle(id: string, outcome: PatientLookupOutcome): Promise<void> {
    await this.db.query("UPDATE records_patient_lookups SET outcome = $2 WHERE id = $1", [id, outcome]);
  }

  async byHash(nhsNumberHash: string, limit: number): Promise<PatientLookupEntry[]> {
    const rows = (await this.db.query("SELECT * FROM records_patient_lookups WHERE nhs_number_hash = $1 ORDER BY at DESC, id DESC LIMIT $2", [
      nhsNumberHash,
      limit,
    ])) as LookupRow[];
    return rows.map((row) => ({
      actor: row.actor,
      roomId: row.room_id,
      threadRootId: row.thread_root_id,
      nhsNumberHash: row.nhs_number_hash,
      outcome: row.outcome as PatientLookupResult,
      via: row.via === "portal" ? "portal" : "command",
      at: row.at,
    }));
  }
}
