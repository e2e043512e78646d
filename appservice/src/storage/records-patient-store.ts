import type { DataSource } from "typeorm";
import type { NhsNumber } from "../domain/records/nhs-number.js";
import type { PatientLink, PatientLinkStore } from "../domain/records/patient.js";

interface LinkRow {
  room_id: string;
  thread_key: string;
  nhs_number: string;
  patient_name: string | null;
  birth_date: string | null;
  nhs_number_verified: boolean;
  linked_by: string;
  linked_at: Date;
}

function toLink(row: LinkRow): PatientLink {
  return {
    roomId: row.room_id,
    threadRootId: row.thread_key === "" ? null : row.thread_key,
    patient: { nhsNumber: row.nhs_number as NhsNumber, name: row.patient_name, birthDate: row.birth_date, verified: row.nhs_number_verified },
    linkedBy: row.linked_by,
    linkedAt: row.linked_at,
  };
}

/** Which patient each room or thread is about. */
export class PostgresPatientLinkStore implements PatientLinkStore {
  constructor(private readonly db: DataSource) {}

  async save(link: PatientLink): Promise<void> {
    await this.db.query(
      `INSERT INTO records_patient_links (room_id, thread_key, nhs_number, patient_name, birth_date, linked_by, linked_at, nhs_number_verified)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
       ON CONFLICT (room_id, thread_key) DO UPDATE
         SET nhs_number = $3, patient_name = $4, birth_date = $5, linked_by = $6, linked_at = $7, nhs_number_verified = $8`,
      [
        link.roomId,
        link.threadRootId ?? "",
        link.patient.nhsNumber,
        link.patient.name,
        link.patient.birthDate,
        link.linkedBy,
        link.linkedAt,
        link.patient.verified,
      ],
    );
  }

  async find(roomId: string, threadRootId: string | null): Promise<PatientLink | null> {
    const rows = (await this.db.query("SELECT * FROM records_patient_links WHERE room_id = $1 AND thread_key IN ('', $2) ORDER BY thread_key DESC", [
      roomId,
      threadRootId ?? "",
    ])) as LinkRow[];
    const [row] = rows;
    return row ? toLink(row) : null;
  }

  async list(): Promise<PatientLink[]> {
    const rows = (await this.db.query("SELECT * FROM records_patient_links ORDER BY linked_at DESC")) as LinkRow[];
    return rows.map(toLink);
  }
}
