import type { DataSource } from "typeorm";
import { HandoverError } from "../domain/errors.js";
import { flatten } from "./directory-rule-store.js";

/** A person pushed to Handover (SCIM, CSV): the source's own resource, kept whole. */
export interface PushedPerson {
  id: string;
  userName: string;
  externalId: string | null;
  active: boolean;
  resource: Record<string, unknown>;
  created: Date;
  updated: Date;
}

export interface PushedGroup {
  id: string;
  displayName: string;
  externalId: string | null;
  /** Ids of member people and member groups (nested). */
  memberIds: string[];
  created: Date;
  updated: Date;
}

export interface PersonFilter {
  userName?: string | undefined;
  externalId?: string | undefined;
}

export interface GroupFilter {
  displayName?: string | undefined;
  externalId?: string | undefined;
}

interface PersonRow {
  id: string;
  user_name: string;
  external_id: string | null;
  active: boolean;
  resource: Record<string, unknown>;
  created_at: Date;
  updated_at: Date;
}

interface GroupRow {
  id: string;
  display_name: string;
  external_id: string | null;
  member_ids: string[];
  created_at: Date;
  updated_at: Date;
}

const toPerson = (row: PersonRow): PushedPerson => ({
  id: row.id,
  userName: row.user_name,
  externalId: row.external_id,
  active: row.active,
  resource: row.resource,
  created: row.created_at,
  updated: row.updated_at,
});

const toGroup = (row: GroupRow): PushedGroup => ({
  id: row.id,
  displayName: row.display_name,
  externalId: row.external_id,
  memberIds: row.member_ids,
  created: row.created_at,
  updated: row.updated_at,
});

function uniqueViolation(error: unknown): boolean {
  return (error as { code?: string }).code === "23505" || (error as { driverError?: { code?: string } }).driverError?.code === "23505";
}

/** People and groups of the pushed sources (SCIM, CSV), one source's rows apart from another's. */
export class PostgresPushedDirectoryStore {
  constructor(private readonly db: DataSource) {}

  async listPeople(source: string, filter: PersonFilter, offset: number, limit: number): Promise<{ total: number; people: PushedPerson[] }> {
    const where = "source = $1 AND ($2::text IS NULL OR lower(user_name) = lower($2)) AND ($3::text IS NULL OR external_id = $3)";
    const params = [source, filter.userName ?? null, filter.externalId ?? null];
    const [count] = (await this.db.query(`SELECT count(*)::int AS n FROM directory_pushed_people WHERE ${where}`, params)) as { n: number }[];
    const rows = (await this.db.query(`SELECT * FROM directory_pushed_people WHERE ${where} ORDER BY created_at, id OFFSET $4 LIMIT $5`, [
      ...params,
      offset,
      limit,
    ])) as PersonRow[];
    return { total: count?.n ?? 0, people: rows.map(toPerson) };
  }

  async getPerson(source: string, id: string): Promise<PushedPerson | null> {
    const [row] = (await this.db.query("SELECT * FROM directory_pushed_people WHERE source = $1 AND id = $2", [source, id])) as PersonRow[];
    return row ? toPerson(row) : null;
  }

  async putPerson(source: string, person: Omit<PushedPerson, "created" | "updated">, mode: "create" | "update"): Promise<PushedPerson> {
    try {
      const sql =
        mode === "create"
          ? `INSERT INTO directory_pushed_people (source, id, user_name, external_id, active, resource) VALUES ($1, $2, $3, $4, $5, $6) RETURNING *`
          : `UPDATE directory_pushed_people SET user_name = $3, external_id = $4, active = $5, resource = $6, updated_at = now()
             WHERE source = $1 AND id = $2 RETURNING *`;
      const rows = flatten<PersonRow>(
        await this.db.query(sql, [source, person.id, person.userName, person.externalId, person.active, JSON.stringify(person.resource)]),
      );
      const row = rows[0];
      if (!row) throw new HandoverError("NOT_FOUND", `No user ${person.id}`);
      return toPerson(row);
    } catch (error) {
      if (uniqueViolation(error)) throw new HandoverError("CONFLICT", `A user with userName ${person.userName} already exists`);
      throw error;
    }
  }

  async deletePerson(source: string, id: string): Promise<boolean> {
    return this.db.transaction(async (manager) => {
      const deleted = flatten(await manager.query("DELETE FROM directory_pushed_people WHERE source = $1 AND id = $2 RETURNING id", [source, id]));
      await manager.query(`UPDATE directory_pushed_groups SET member_ids = member_ids - $2::text, updated_at = now() WHERE source = $1 AND member_ids ? $2`, [
        source,
        id,
      ]);
      return deleted.length > 0;
    });
  }

  async listGroups(source: string, filter: GroupFilter, offset: number, limit: number): Promise<{ total: number; groups: PushedGroup[] }> {
    const where = "source = $1 AND ($2::text IS NULL OR lower(display_name) = lower($2)) AND ($3::text IS NULL OR external_id = $3)";
    const params = [source, filter.displayName ?? null, filter.externalId ?? null];
    const [count] = (await this.db.query(`SELECT count(*)::int AS n FROM directory_pushed_groups WHERE ${where}`, params)) as { n: number }[];
    const rows = (await this.db.query(`SELECT * FROM directory_pushed_groups WHERE ${where} ORDER BY created_at, id OFFSET $4 LIMIT $5`, [
      ...params,
      offset,
      limit,
    ])) as GroupRow[];
    return { total: count?.n ?? 0, groups: rows.map(toGroup) };
  }

  async getGroup(source: string, id: string): Promise<PushedGroup | null> {
    const [row] = (await this.db.query("SELECT * FROM directory_pushed_groups WHERE source = $1 AND id = $2", [source, id])) as GroupRow[];
    return row ? toGroup(row) : null;
  }

  async putGroup(source: string, group: Omit<PushedGroup, "created" | "updated">, mode: "create" | "update"): Promise<PushedGroup> {
    try {
      const sql =
        mode === "create"
          ? "INSERT INTO directory_pushed_groups (source, id, display_name, external_id, member_ids) VALUES ($1, $2, $3, $4, $5) RETURNING *"
          : `UPDATE directory_pushed_groups SET display_name = $3, external_id = $4, member_ids = $5, updated_at = now()
             WHERE source = $1 AND id = $2 RETURNING *`;
      const rows = flatten<GroupRow>(
        await this.db.query(sql, [source, group.id, group.displayName, group.externalId, JSON.stringify([...new Set(group.memberIds)])]),
      );
      const row = rows[0];
      if (!row) throw new HandoverError("NOT_FOUND", `No group ${group.id}`);
      return toGroup(row);
    } catch (error) {
      if (uniqueViolation(error)) throw new HandoverError("CONFLICT", `A group named ${group.displayName} already exists`);
      throw error;
    }
  }

  async deleteGroup(source: string, id: string): Promise<boolean> {
    return this.db.transaction(async (manager) => {
      const deleted = flatten(await manager.query("DELETE FROM directory_pushed_groups WHERE source = $1 AND id = $2 RETURNING id", [source, id]));
      await manager.query("UPDATE directory_pushed_groups SET member_ids = member_ids - $2::text, updated_at = now() WHERE source = $1 AND member_ids ? $2", [
        source,
        id,
      ]);
      return deleted.length > 0;
    });
  }

  /** Everything one source holds, for a sync run. */
  async all(source: string): Promise<{ people: PushedPerson[]; groups: PushedGroup[] }> {
    const people = ((await this.db.query("SELECT * FROM directory_pushed_people WHERE source = $1", [source])) as PersonRow[]).map(toPerson);
    const groups = ((await this.db.query("SELECT * FROM directory_pushed_groups WHERE source = $1", [source])) as GroupRow[]).map(toGroup);
    return { people, groups };
  }

  /** Replaces one source's whole content at once (a CSV import): one transaction, one insert per table. */
  async replaceAll(source: string, people: Omit<PushedPerson, "created" | "updated">[], groups: Omit<PushedGroup, "created" | "updated">[]): Promise<void> {
    await this.db.transaction(async (manager) => {
      await manager.query("DELETE FROM directory_pushed_groups WHERE source = $1", [source]);
      await manager.query("DELETE FROM directory_pushed_people WHERE source = $1", [source]);
      await manager.query(
        `INSERT INTO directory_pushed_people (source, id, user_name, external_id, active, resource)
         SELECT $1, p.id, p.user_name, p.external_id, p.active, p.resource
         FROM jsonb_to_recordset($2::jsonb) AS p(id text, user_name text, external_id text, active boolean, resource jsonb)`,
        [
          source,
          JSON.stringify(
            people.map((person) => ({
              id: person.id,
              user_name: person.userName,
              external_id: person.externalId,
              active: person.active,
              resource: person.resource,
            })),
          ),
        ],
      );
      await manager.query(
        `INSERT INTO directory_pushed_groups (source, id, display_name, external_id, member_ids)
         SELECT $1, g.id, g.display_name, g.external_id, g.member_ids
         FROM jsonb_to_recordset($2::jsonb) AS g(id text, display_name text, external_id text, member_ids jsonb)`,
        [
          source,
          JSON.stringify(
            groups.map((group) => ({
              id: group.id,
              display_name: group.displayName,
              external_id: group.externalId,
              member_ids: [...new Set(group.memberIds)],
            })),
          ),
        ],
      );
    });
  }
}
