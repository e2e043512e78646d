import type { DataSource, EntityManager } from "typeorm";
import type { DatabaseSchema, DeviceStoreBackend, DeviceStoreChanges, SealedEntry } from "../domain/e2ee/device-store.js";

interface EntryRow {
  db_name: string;
  store_name: string;
  entry_key: string;
  sealed: Buffer;
}

const BATCH = 500;

async function insertEntries(manager: EntityManager, owner: string, entries: SealedEntry[]): Promise<void> {
  for (let start = 0; start < entries.length; start += BATCH) {
    const batch = entries.slice(start, start + BATCH);
    const params: unknown[] = [owner];
    const values = batch.map((entry) => {
      params.push(entry.db, entry.store, entry.key, entry.sealed);
      const n = params.length;
      return `($1, $${n - 3}, $${n - 2}, $${n - 1}, $${n})`;
    });
    await manager.query(
      `INSERT INTO e2ee_store_entries (owner, db_name, store_name, entry_key, sealed) VALUES ${values.join(", ")}
       ON CONFLICT (owner, db_name, store_name, entry_key) DO UPDATE SET sealed = EXCLUDED.sealed, updated_at = now()`,
      params,
    );
  }
}

/** The bot device's crypto store in PostgreSQL (values arrive sealed). */
export class PostgresDeviceStore implements DeviceStoreBackend {
  constructor(private readonly db: DataSource) {}

  async load(owner: string): Promise<{ schemas: DatabaseSchema[]; entries: SealedEntry[] }> {
    const schemas = (await this.db.query("SELECT schema FROM e2ee_store_schemas WHERE owner = $1 ORDER BY db_name", [owner])) as { schema: DatabaseSchema }[];
    const rows = (await this.db.query("SELECT db_name, store_name, entry_key, sealed FROM e2ee_store_entries WHERE owner = $1", [owner])) as EntryRow[];
    return {
      schemas: schemas.map((row) => row.schema),
      entries: rows.map((row) => ({ db: row.db_name, store: row.store_name, key: row.entry_key, sealed: row.sealed })),
    };
  }

  async apply(owner: string, changes: DeviceStoreChanges): Promise<void> {
    await this.db.transaction(async (manager) => {
      for (const schema of changes.schemas) {
        await manager.query(
          `INSERT INTO e2ee_store_schemas (owner, db_name, version, schema) VALUES ($1, $2, $3, $4)
           ON CONFLICT (owner, db_name) DO UPDATE SET version = EXCLUDED.version, schema = EXCLUDED.schema`,
          [owner, schema.name, schema.version, JSON.stringify(schema)],
        );
      }
      for (const replaced of changes.replaced) {
        await manager.query("DELETE FROM e2ee_store_entries WHERE owner = $1 AND db_name = $2 AND store_name = $3", [owner, replaced.db, replaced.store]);
        await insertEntries(manager, owner, replaced.entries);
      }
      await insertEntries(manager, owner, changes.upserts);
      const byStore = new Map<string, { db: string; store: string; keys: string[] }>();
      for (const gone of changes.deletes) {
        const id = `${gone.db}\u0000${gone.store}`;
        const group = byStore.get(id) ?? { db: gone.db, store: gone.store, keys: [] };
        group.keys.push(gone.key);
        byStore.set(id, group);
      }
      for (const group of byStore.values()) {
        await manager.query("DELETE FROM e2ee_store_entries WHERE owner = $1 AND db_name = $2 AND store_name = $3 AND entry_key = ANY($4)", [
          owner,
          group.db,
          group.store,
          group.keys,
        ]);
      }
    });
  }

  async clear(owner: string, keepPrefix: string): Promise<void> {
    await this.db.transaction(async (manager) => {
      await manager.query("DELETE FROM e2ee_store_entries WHERE owner = $1 AND left(db_name, length($2)) <> $2", [owner, keepPrefix]);
      await manager.query("DELETE FROM e2ee_store_schemas WHERE owner = $1 AND left(db_name, length($2)) <> $2", [owner, keepPrefix]);
    });
  }
}
