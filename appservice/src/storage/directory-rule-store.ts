import type { DataSource } from "typeorm";
import type { SyncRule } from "../domain/directory/model.js";
import type { RuleStore } from "../domain/directory/ports.js";

export class PostgresDirectoryRuleStore implements RuleStore {
  constructor(private readonly db: DataSource) {}

  async list(): Promise<SyncRule[]> {
    return ((await this.db.query("SELECT rule FROM directory_rules ORDER BY id")) as { rule: SyncRule }[]).map((row) => row.rule);
  }

  async get(id: string): Promise<SyncRule | null> {
    const [row] = (await this.db.query("SELECT rule FROM directory_rules WHERE id = $1", [id])) as { rule: SyncRule }[];
    return row?.rule ?? null;
  }

  async save(rule: SyncRule): Promise<{ created: boolean }> {
    const [row] = (await this.db.query(
      `INSERT INTO directory_rules (id, rule) VALUES ($1, $2)
       ON CONFLICT (id) DO UPDATE SET rule = excluded.rule, updated_at = now() RETURNING (xmax = 0) AS created`,
      [rule.id, JSON.stringify(rule)],
    )) as { created: boolean }[];
    return { created: row?.created ?? false };
  }

  async remove(id: string): Promise<boolean> {
    const result = (await this.db.query("DELETE FROM directory_rules WHERE id = $1 RETURNING id", [id])) as unknown[];
    return flatten(result).length > 0;
  }
}

/** typeorm answers DELETE/UPDATE ... RETURNING as [rows, count]. */
export function flatten<T>(result: unknown): T[] {
  if (Array.isArray(result) && result.length === 2 && Array.isArray(result[0]) && typeof result[1] === "number") return result[0] as T[];
  return result as T[];
}
