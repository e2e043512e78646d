import type { DataSource } from "typeorm";
import {
  type DeviceSightings,
  factsFromJson,
  factsToJson,
  type PersonFactsRecord,
  type PostureChanges,
  type PostureWatch,
  type WatchedPerson,
} from "../domain/devices/watch.js";

/** What posture passes keep between runs, and the first sighting of each device (issue 14). */
export class PostgresDeviceWatch implements PostureWatch, PostureChanges, DeviceSightings {
  constructor(private readonly db: DataSource) {}

  async load(): Promise<Map<string, WatchedPerson>> {
    const rows = (await this.db.query(
      `SELECT user_id, last_seen_ts, facts, read_at, touched_at IS NOT NULL AND touched_at >= read_at AS touched
       FROM device_posture_people WHERE facts <> 'null'::jsonb`,
    )) as { user_id: string; last_seen_ts: string | null; facts: unknown; read_at: Date; touched: boolean }[];
    return new Map(
      rows.map((row) => [
        row.user_id,
        {
          lastSeenTs: row.last_seen_ts === null ? null : Number(row.last_seen_ts),
          facts: factsFromJson(row.facts),
          readAt: row.read_at,
          touchedSinceRead: row.touched,
        },
      ]),
    );
  }

  async save(people: readonly { userId: string; lastSeenTs: number | null; facts: PersonFactsRecord }[], readStartedAt: Date): Promise<void> {
    if (people.length === 0) return;
    await this.db.query(
      `INSERT INTO device_posture_people (user_id, last_seen_ts, facts, read_at)
       SELECT * FROM unnest($1::text[], $2::bigint[], $3::jsonb[], array_fill($4::timestamptz, ARRAY[cardinality($1::text[])]))
       ON CONFLICT (user_id) DO UPDATE SET last_seen_ts = excluded.last_seen_ts, facts = excluded.facts, read_at = excluded.read_at`,
      [
        people.map((person) => person.userId),
        people.map((person) => person.lastSeenTs),
        people.map((person) => JSON.stringify(factsToJson(person.facts))),
        readStartedAt,
      ],
    );
  }

  async keepOnly(userIds: readonly string[]): Promise<void> {
    await this.db.query("DELETE FROM device_posture_people WHERE NOT (user_id = ANY($1::text[]))", [userIds]);
  }

  async lastFullPassAt(): Promise<Date | null> {
    const [row] = (await this.db.query("SELECT last_full_pass_at FROM device_watch")) as { last_full_pass_at: Date | null }[];
    return row?.last_full_pass_at ?? null;
  }

  async fullPassDone(at: Date): Promise<void> {
    await this.db.query(
      `INSERT INTO device_watch (started_at, last_full_pass_at) VALUES ($1, $1)
       ON CONFLICT (singleton) DO UPDATE SET last_full_pass_at = excluded.last_full_pass_at`,
      [at],
    );
  }

  async touched(userIds: readonly string[], at: Date): Promise<void> {
    if (userIds.length === 0) return;
    // Someone a pass is reading for the first time has no row yet, and the pass saves a read made
    // before this sign-out: a row without facts keeps the sign-out's time for that save to meet.
    await this.db.query(
      `INSERT INTO device_posture_people (user_id, last_seen_ts, facts, read_at, touched_at)
       SELECT DISTINCT user_id, NULL::bigint, 'null'::jsonb, '-infinity'::timestamptz, $2::timestamptz FROM unnest($1::text[]) AS user_id
       ON CONFLICT (user_id) DO UPDATE SET touched_at = excluded.touched_at`,
      [userIds, at],
    );
  }

  async sighted(devices: readonly { userId: string; deviceId: string }[], at: Date): Promise<void> {
    await this.db.query("INSERT INTO device_watch (started_at) VALUES ($1) ON CONFLICT (singleton) DO NOTHING", [at]);
    if (devices.length === 0) return;
    await this.db.query(
      `INSERT INTO device_sightings (user_id, device_id, first_seen_at)
       SELECT *, $3::timestamptz FROM unnest($1::text[], $2::text[])
       ON CONFLICT (user_id, device_id) DO NOTHING`,
      [devices.map((device) => device.userId), devices.map((device) => device.deviceId), at],
    );
  }

  async firstSeen(userIds: readonly string[]): Promise<{ devices: Map<string, Map<string, Date>>; watchingSince: Date | null }> {
    const [watch] = (await this.db.query("SELECT started_at FROM device_watch")) as { started_at: Date }[];
    const rows = (await this.db.query("SELECT user_id, device_id, first_seen_at FROM device_sightings WHERE user_id = ANY($1::text[])", [userIds])) as {
      user_id: string;
      device_id: string;
      first_seen_at: Date;
    }[];
    const devices = new Map<string, Map<string, Date>>();
    for (const row of rows) {
      const own = devices.get(row.user_id) ?? new Map<string, Date>();
      own.set(row.device_id, row.first_seen_at);
      devices.set(row.user_id, own);
    }
    return { devices, watchingSince: watch?.started_at ?? null };
  }
}

/** The push probe's last observation, shared by every Handover process on the database. */
export class PostgresPushProbeRecord {
  constructor(private readonly db: DataSource) {}

  async load(): Promise<{ includesContent: boolean; checkedAt: Date } | null> {
    const [row] = (await this.db.query("SELECT includes_content, checked_at FROM device_push_probe")) as { includes_content: boolean; checked_at: Date }[];
    return row ? { includesContent: row.includes_content, checkedAt: row.checked_at } : null;
  }

  async save(observation: { includesContent: boolean; checkedAt: Date }): Promise<void> {
    await this.db.query(
      `INSERT INTO device_push_probe (includes_content, checked_at) VALUES ($1, $2)
       ON CONFLICT (singleton) DO UPDATE SET includes_content = excluded.includes_content, checked_at = excluded.checked_at`,
      [observation.includesContent, observation.checkedAt],
    );
  }
}
