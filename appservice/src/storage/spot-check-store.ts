import type { DataSource } from "typeorm";
import type { RecordOutcome, SpotCheck, SpotCheckList } from "../domain/devices/spot-check.js";
import type { NewSpotCheck, SpotCheckStore } from "../domain/devices/spot-checks.js";

interface CheckRow {
  id: string;
  trigger: SpotCheck["trigger"];
  started_by: string;
  started_at: Date;
  sample: SpotCheck["sample"];
  size: number;
  recorded: number;
}

interface PersonRow {
  user_id: string;
  display_name: string | null;
  findings: string[];
  meets_server_policy: boolean;
  checklist: SpotCheck["people"][number]["checklist"];
  outcome: SpotCheck["people"][number]["outcome"];
  note: string | null;
  recorded_by: string | null;
  recorded_at: Date | null;
}

const SUMMARY = `SELECT c.*, (SELECT count(*)::int FROM device_spot_check_people p WHERE p.spot_check_id = c.id) AS size,
  (SELECT count(*)::int FROM device_spot_check_people p WHERE p.spot_check_id = c.id AND p.outcome IS NOT NULL) AS recorded
  FROM device_spot_checks c`;

const summaryOf = (row: CheckRow) => ({
  id: Number(row.id),
  trigger: row.trigger,
  startedBy: row.started_by,
  startedAt: row.started_at.toISOString(),
  sample: row.sample,
  size: row.size,
  recorded: row.recorded,
});

export class PostgresSpotCheckStore implements SpotCheckStore {
  constructor(private readonly db: DataSource) {}

  async create(check: NewSpotCheck): Promise<SpotCheck> {
    const id = await this.db.transaction(async (manager) => {
      const [row] = (await manager.query(
        "INSERT INTO device_spot_checks (trigger, started_by, started_at, sample) VALUES ($1, $2, $3, $4::jsonb) RETURNING id",
        [check.trigger, check.startedBy, check.startedAt, JSON.stringify(check.sample)],
      )) as { id: string }[];
      for (const person of check.people) {
        await manager.query(
          "INSERT INTO device_spot_check_people (spot_check_id, user_id, display_name, findings, meets_server_policy) VALUES ($1, $2, $3, $4::jsonb, $5)",
          [row?.id, person.userId, person.displayName, JSON.stringify(person.findings), person.meetsServerPolicy],
        );
      }
      return Number(row?.id);
    });
    return (await this.get(id)) as SpotCheck;
  }

  async get(id: number): Promise<SpotCheck | null> {
    const [row] = (await this.db.query(`${SUMMARY} WHERE c.id = $1`, [id])) as CheckRow[];
    if (!row) return null;
    const people = (await this.db.query("SELECT * FROM device_spot_check_people WHERE spot_check_id = $1 ORDER BY user_id", [id])) as PersonRow[];
    const { size: _size, ...summary } = summaryOf(row);
    return {
      ...summary,
      people: people.map((person) => ({
        userId: person.user_id,
        displayName: person.display_name,
        findings: person.findings,
        meetsServerPolicy: person.meets_server_policy,
        checklist: person.checklist,
        outcome: person.outcome,
        note: person.note,
        recordedBy: person.recorded_by,
        recordedAt: person.recorded_at?.toISOString() ?? null,
      })),
    };
  }

  async list(limit: number): Promise<SpotCheckList["spotChecks"]> {
    return ((await this.db.query(`${SUMMARY} ORDER BY c.id DESC LIMIT $1`, [limit])) as CheckRow[]).map(summaryOf);
  }

  async recordOutcome(id: number, userId: string, outcome: RecordOutcome & { recordedBy: string; recordedAt: Date }): Promise<boolean> {
    const [, affected] = (await this.db.query(
      `UPDATE device_spot_check_people SET checklist = $3::jsonb, outcome = $4, note = $5, recorded_by = $6, recorded_at = $7
       WHERE spot_check_id = $1 AND user_id = $2`,
      [id, userId, JSON.stringify(outcome.checklist), outcome.outcome, outcome.note ?? null, outcome.recordedBy, outcome.recordedAt],
    )) as [unknown, number];
    return affected === 1;
  }

  async lastScheduledAt(group: string | null): Promise<Date | null> {
    const [row] = (await this.db.query(
      `SELECT max(started_at) AS at FROM device_spot_checks
       WHERE trigger = 'scheduled' AND lower(coalesce(sample->>'group', '')) = lower(coalesce($1::text, ''))`,
      [group],
    )) as { at: Date | null }[];
    return row?.at ?? null;
  }
}
