import type { DatabaseSchema, DeviceStoreBackend, DeviceStoreChanges, SealedEntry } from "../domain/e2ee/device-store.js";

/** The PostgreSQL side of the device-store mirror, in memory (unit tests and the e2ee bench). */
export class MemoryDeviceStore implements DeviceStoreBackend {
  schemas = new Map<string, DatabaseSchema>();
  entries = new Map<string, SealedEntry>();
  /** Makes the next apply() fail, as a database that is down would. */
  failNext = false;

  async load() {
    return { schemas: [...this.schemas.values()], entries: [...this.entries.values()] };
  }

  async apply(_owner: string, changes: DeviceStoreChanges) {
    if (this.failNext) {
      this.failNext = false;
      throw new Error("database down");
    }
    const id = (e: { db: string; store: string; key: string }) => `${e.db}|${e.store}|${e.key}`;
    for (const schema of changes.schemas) this.schemas.set(schema.name, schema);
    for (const replaced of changes.replaced) {
      for (const [key, entry] of this.entries) if (entry.db === replaced.db && entry.store === replaced.store) this.entries.delete(key);
      for (const entry of replaced.entries) this.entries.set(id(entry), entry);
    }
    for (const entry of changes.upserts) this.entries.set(id(entry), entry);
    for (const gone of changes.deletes) this.entries.delete(id(gone));
  }

  async clear(_owner: string, keepPrefix: string) {
    for (const name of this.schemas.keys()) if (!name.startsWith(keepPrefix)) this.schemas.delete(name);
    for (const [key, entry] of this.entries) if (!entry.db.startsWith(keepPrefix)) this.entries.delete(key);
  }

  /** Bytes of sealed values held. */
  bytes(): number {
    return [...this.entries.values()].reduce((sum, entry) => sum + entry.sealed.length, 0);
  }
}
