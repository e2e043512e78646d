/**
 * The bot device's whole crypto store (Olm account, Olm and megolm sessions, device lists,
 * cross-signing identity), as matrix-sdk-crypto-wasm keeps it in IndexedDB: Handover mirrors it
 * into PostgreSQL entry by entry, each value sealed before it gets here, so the same device (same
 * identity keys, same one-time keys, same sessions) comes back after a restart.
 */
export interface IndexSchema {
  name: string;
  keyPath: string | string[];
  unique: boolean;
  multiEntry: boolean;
}

export interface ObjectStoreSchema {
  name: string;
  keyPath: string | string[] | null;
  autoIncrement: boolean;
  indexes: IndexSchema[];
}

export interface DatabaseSchema {
  name: string;
  version: number;
  stores: ObjectStoreSchema[];
}

/** One entry of one object store: its key in a stable text form and its sealed value. */
export interface SealedEntry {
  db: string;
  store: string;
  key: string;
  sealed: Buffer;
}

export interface DeviceStoreChanges {
  /** Databases whose schema is new or changed. */
  schemas: DatabaseSchema[];
  /** Object stores whose entries are replaced wholesale (cleared, range-deleted, or removed). */
  replaced: { db: string; store: string; entries: SealedEntry[] }[];
  upserts: SealedEntry[];
  deletes: { db: string; store: string; key: string }[];
}

export interface DeviceStoreBackend {
  load(owner: string): Promise<{ schemas: DatabaseSchema[]; entries: SealedEntry[] }>;
  /** Applies the changes atomically: all or nothing. */
  apply(owner: string, changes: DeviceStoreChanges): Promise<void>;
  /** Forgets the stores of the owner's other devices: every database not named with `keepPrefix`. */
  clear(owner: string, keepPrefix: string): Promise<void>;
}
