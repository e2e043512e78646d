import type { DataSource } from "typeorm";

export interface CsvImportRecord {
  source: string;
  sha256: string;
  via: "upload" | "watch";
  actor: string;
  people: number;
  groups: number;
  importedAt: Date;
}

interface Row {
  source: string;
  sha256: string;
  via: "upload" | "watch";
  actor: string;
  people: number;
  groups: number;
  imported_at: Date;
}

/** The last import of each CSV source. */
export class PostgresCsvImportStore {
  constructor(private readonly db: DataSource) {}

  async last(source: string): Promise<CsvImportRecord | null> {
    const [row] = (await this.db.query("SELECT * FROM directory_csv_imports WHERE source = $1", [source])) as Row[];
    return row
      ? { source: row.source, sha256: row.sha256, via: row.via, actor: row.actor, people: row.people, groups: row.groups, importedAt: row.imported_at }
      : null;
  }

  async record(entry: Omit<CsvImportRecord, "importedAt">): Promise<void> {
    await this.db.query(
      `INSERT INTO directory_csv_imports (source, sha256, via, actor, people, groups) VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (source) DO UPDATE SET sha256 = $2, via = $3, actor = $4, people = $5, groups = $6, imported_at = now()`,
      [entry.source, entry.sha256, entry.via, entry.actor, entry.people, entry.groups],
    );
  }
}
