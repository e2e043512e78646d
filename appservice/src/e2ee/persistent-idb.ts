import { deserialize, serialize } from "node:v8";
// The IndexedDB globals (IDBKeyRange, IDBCursor, ...) the crypto library looks up.
import "fake-indexeddb/auto";
import { IDBCursor, IDBFactory, IDBIndex, IDBKeyRange, IDBObjectStore } from "fake-indexeddb";
import type { DatabaseSchema, DeviceStoreBackend, DeviceStoreChanges, ObjectStoreSchema, SealedEntry } from "../domain/e2ee/device-store.js";
import { HandoverError } from "../domain/errors.js";
import { SerialQueue } from "../domain/serial-queue.js";
import type { StateCipher } from "./state-cipher.js";

/**
 * matrix-sdk-crypto-wasm keeps its crypto store only in IndexedDB. Node has none, so each
 * device gets its own in-memory IndexedDB (fake-indexeddb) and this class mirrors every write
 * into PostgreSQL: writes are noted as they happen (object-store and cursor writes are hooked),
 * and `flush()` reads the current value of each noted entry and stores it, sealed. On start,
 * `restore()` rebuilds the databases from PostgreSQL before the OlmMachine opens them.
 */

// Node's TypeScript types have no DOM lib: the little of IndexedDB used here, typed by hand.
type IdbKey = string | number | Date | ArrayBuffer | IdbKey[];
interface IdbRequest<T = unknown> {
  result: T;
  error: unknown;
  onsuccess: (() => void) | null;
  onerror: (() => void) | null;
  addEventListener(type: "success", listener: () => void): void;
}
interface IdbOpenRequest extends IdbRequest<IdbDatabase> {
  onupgradeneeded: (() => void) | null;
}
interface IdbIndex {
  keyPath: string | string[];
  unique: boolean;
  multiEntry: boolean;
  objectStore: IdbObjectStore;
}
interface IdbObjectStore {
  name: string;
  keyPath: string | string[] | null;
  autoIncrement: boolean;
  indexNames: ArrayLike<string>;
  transaction: IdbTransaction;
  index(name: string): IdbIndex;
  createIndex(name: string, keyPath: string | string[], options: { unique: boolean; multiEntry: boolean }): IdbIndex;
  put(value: unknown, key?: IdbKey): IdbRequest<IdbKey>;
  get(key: IdbKey): IdbRequest<unknown>;
  getAll(): IdbRequest<unknown[]>;
  getAllKeys(): IdbRequest<IdbKey[]>;
}
interface IdbTransaction {
  db: IdbDatabase;
  error: unknown;
  objectStore(name: string): IdbObjectStore;
  oncomplete: (() => void) | null;
  onerror: (() => void) | null;
  onabort: (() => void) | null;
}
interface IdbDatabase {
  name: string;
  version: number;
  objectStoreNames: ArrayLike<string> & { contains(name: string): boolean };
  transaction(stores: string | string[], mode: "readonly" | "readwrite"): IdbTransaction;
  createObjectStore(name: string, options: { keyPath: string | string[] | null; autoIncrement: boolean }): IdbObjectStore;
  close(): void;
  onversionchange: (() => void) | null;
}
interface IdbFactory {
  open(name: string, version?: number): IdbOpenRequest;
  databases(): Promise<{ name?: string; version?: number }[]>;
}
interface IdbCursor {
  source: IdbObjectStore | IdbIndex;
  primaryKey: IdbKey;
}

type Dirty = Map<string, Map<string, Set<string> | "all">>;

const mirrors = new Map<string, PersistentIndexedDb>();

function mirrorFor(dbName: string): PersistentIndexedDb | undefined {
  for (const [prefix, mirror] of mirrors) if (dbName.startsWith(prefix)) return mirror;
  return undefined;
}

/** IndexedDB keys as stable text (the PostgreSQL key), and back. */
export function encodeKey(key: unknown): string {
  if (typeof key === "string") return `s${key}`;
  if (typeof key === "number") return `n${String(key)}`;
  if (key instanceof Date) return `d${key.getTime()}`;
  if (key instanceof ArrayBuffer) return `b${Buffer.from(key).toString("base64")}`;
  if (ArrayBuffer.isView(key)) return `b${Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString("base64")}`;
  if (Array.isArray(key)) return `a${JSON.stringify(key.map(encodeKey))}`;
  throw new HandoverError("VALIDATION_FAILED", `not an IndexedDB key: ${typeof key}`);
}

export function decodeKey(text: string): IdbKey {
  const body = text.slice(1);
  switch (text[0]) {
    case "s":
      return body;
    case "n":
      return Number(body);
    case "d":
      return new Date(Number(body));
    case "b": {
      const bytes = Buffer.from(body, "base64");
      return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
    }
    case "a":
      return (JSON.parse(body) as string[]).map(decodeKey);
    default:
      throw new HandoverError("VALIDATION_FAILED", `bad stored IndexedDB key: ${text.slice(0, 20)}`);
  }
}

/** Marks a whole object store changed (cleared, or deleted by key range). */
const WHOLE = Symbol("whole store");

function note(store: { name: string; transaction: { db: { name: string } } }, key: unknown): void {
  const dbName = store.transaction.db.name;
  const mirror = mirrorFor(dbName);
  if (mirror) mirror.noteWrite(dbName, store.name, key === WHOLE ? "all" : encodeKey(key));
}

function afterSuccess(request: IdbRequest, then: () => void): IdbRequest {
  request.addEventListener("success", () => then());
  return request;
}

let hooked = false;

/** Hooks every write path of fake-indexeddb once per process (put, add, delete, clear, cursor update/delete). */
function hookWrites(): void {
  if (hooked) return;
  hooked = true;
  type Method<This> = (this: This, ...args: unknown[]) => IdbRequest;
  const store = (IDBObjectStore as { prototype: Record<"put" | "add" | "delete" | "clear", Method<IdbObjectStore>> }).prototype;
  const cursor = (IDBCursor as { prototype: Record<"update" | "delete", Method<IdbCursor>> }).prototype;
  const { put, add, delete: del, clear } = store;
  const { update, delete: cursorDelete } = cursor;
  store.put = function (this: IdbObjectStore, ...args: unknown[]) {
    const request = put.apply(this, args);
    return afterSuccess(request, () => note(this, request.result));
  };
  store.add = function (this: IdbObjectStore, ...args: unknown[]) {
    const request = add.apply(this, args);
    return afterSuccess(request, () => note(this, request.result));
  };
  store.delete = function (this: IdbObjectStore, query: unknown) {
    const request = del.call(this, query);
    return afterSuccess(request, () => note(this, query instanceof IDBKeyRange ? WHOLE : query));
  };
  store.clear = function (this: IdbObjectStore) {
    const request = clear.call(this);
    return afterSuccess(request, () => note(this, WHOLE));
  };
  const sourceStore = (c: IdbCursor): IdbObjectStore => (c.source instanceof IDBIndex ? (c.source as IdbIndex).objectStore : (c.source as IdbObjectStore));
  cursor.update = function (this: IdbCursor, ...args: unknown[]) {
    const key = this.primaryKey;
    const request = update.apply(this, args);
    return afterSuccess(request, () => note(sourceStore(this), key));
  };
  cursor.delete = function (this: IdbCursor) {
    const key = this.primaryKey;
    const request = cursorDelete.call(this);
    return afterSuccess(request, () => note(sourceStore(this), key));
  };
}

function done<T>(request: IdbRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

function committed(transaction: IdbTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    transaction.oncomplete = () => resolve();
    transaction.onerror = () => reject(transaction.error);
    transaction.onabort = () => reject(transaction.error ?? new Error("IndexedDB transaction aborted"));
  });
}

function describe(db: IdbDatabase): DatabaseSchema {
  const names = Array.from(db.objectStoreNames).sort();
  const stores: ObjectStoreSchema[] = [];
  if (names.length > 0) {
    const transaction = db.transaction(names, "readonly");
    for (const name of names) {
      const store = transaction.objectStore(name);
      stores.push({
        name,
        keyPath: store.keyPath,
        autoIncrement: store.autoIncrement,
        indexes: Array.from(store.indexNames)
          .sort()
          .map((indexName) => {
            const index = store.index(indexName);
            return { name: indexName, keyPath: index.keyPath, unique: index.unique, multiEntry: index.multiEntry };
          }),
      });
    }
  }
  return { name: db.name, version: db.version, stores };
}

/** The stored store cannot be opened with this state key (or was altered): not a passing failure. */
export class StoreUnreadableError extends Error {}

export class PersistentIndexedDb {
  /** The IndexedDB the device's OlmMachine must open (set as `globalThis.indexedDB` while it opens). */
  readonly factory: IdbFactory = new IDBFactory() as IdbFactory;
  private dirty: Dirty = new Map();
  private readonly schemas = new Map<string, string>();
  private readonly connections = new Map<string, IdbDatabase>();
  private readonly flushes = new SerialQueue();

  constructor(
    private readonly owner: string,
    /** Databases named with this prefix are this device's (matrix-sdk appends `::matrix-sdk-crypto`…). */
    readonly prefix: string,
    private readonly backend: DeviceStoreBackend,
    private readonly cipher: StateCipher,
  ) {
    hookWrites();
  }

  private associated(db: string, store: string, key: string): string {
    return `${this.owner}|${db}|${store}|${key}`;
  }

  private seal(db: string, store: string, key: string, value: unknown): SealedEntry {
    return { db, store, key, sealed: this.cipher.sealBytes(serialize(value), this.associated(db, store, key)) };
  }

  /** `key` is an encoded key (always starts with a type letter), or "all" for the whole store. */
  noteWrite(db: string, store: string, key: string): void {
    let stores = this.dirty.get(db);
    if (!stores) {
      stores = new Map();
      this.dirty.set(db, stores);
    }
    const keys = stores.get(store);
    if (key === "all") stores.set(store, "all");
    else if (keys === undefined) stores.set(store, new Set([key]));
    else if (keys !== "all") keys.add(key);
  }

  /** True while writes are waiting for `flush()`. */
  get pending(): boolean {
    return this.dirty.size > 0;
  }

  /**
   * Rebuilds the stored databases in this device's IndexedDB. Returns the number of entries;
   * throws (nothing half-loaded is used) when a value cannot be opened with the state key.
   */
  async restore(): Promise<number> {
    const { schemas, entries } = await this.backend.load(this.owner);
    const byDb = new Map<string, SealedEntry[]>();
    for (const entry of entries) {
      const list = byDb.get(entry.db);
      if (list) list.push(entry);
      else byDb.set(entry.db, [entry]);
    }
    let restored = 0;
    for (const schema of schemas) {
      if (!schema.name.startsWith(this.prefix)) continue;
      const open = this.factory.open(schema.name, schema.version);
      open.onupgradeneeded = () => {
        const db = open.result;
        for (const store of schema.stores) {
          const created = db.createObjectStore(store.name, { keyPath: store.keyPath, autoIncrement: store.autoIncrement });
          for (const index of store.indexes) created.createIndex(index.name, index.keyPath, { unique: index.unique, multiEntry: index.multiEntry });
        }
      };
      const db = await done(open);
      try {
        const rows = byDb.get(schema.name) ?? [];
        const storeNames = schema.stores.map((store) => store.name);
        if (rows.length > 0 && storeNames.length > 0) {
          const values = rows.map((row) => {
            try {
              return deserialize(this.cipher.openBytes(row.sealed, this.associated(row.db, row.store, row.key))) as unknown;
            } catch (error) {
              throw new StoreUnreadableError(`stored crypto store entry ${row.db}/${row.store} cannot be read: ${(error as Error).message}`);
            }
          });
          const transaction = db.transaction(storeNames, "readwrite");
          const finished = committed(transaction);
          for (const [i, row] of rows.entries()) transaction.objectStore(row.store).put(values[i], decodeKey(row.key));
          await finished;
          restored += rows.length;
        }
      } finally {
        db.close();
      }
      this.schemas.set(schema.name, JSON.stringify(schema));
    }
    // Only now: the restore's own writes are not changes to store again.
    mirrors.set(this.prefix, this);
    return restored;
  }

  /**
   * Starts mirroring an empty store (a new device). Stores of earlier devices stay in PostgreSQL
   * until `forgetOthers()`, called once the new device is recorded.
   */
  async reset(): Promise<void> {
    this.schemas.clear();
    this.dirty = new Map();
    mirrors.set(this.prefix, this);
  }

  /** Deletes the stored stores of every other device of this owner. */
  async forgetOthers(): Promise<void> {
    await this.backend.clear(this.owner, this.prefix);
  }

  private async connection(name: string): Promise<IdbDatabase> {
    const open = this.connections.get(name);
    if (open) return open;
    const db = await done(this.factory.open(name));
    // Step aside when the crypto store upgrades its schema; reopened on the next flush.
    db.onversionchange = () => {
      db.close();
      this.connections.delete(name);
    };
    this.connections.set(name, db);
    return db;
  }

  /**
   * Stores every entry written since the last flush (its current value, or its absence), and any
   * schema change, in one PostgreSQL transaction. Flushes run one at a time, in order; a failed
   * flush keeps its entries noted for the next one.
   */
  flush(): Promise<void> {
    return this.flushes.run(() => this.flushNow());
  }

  private async flushNow(): Promise<void> {
    const databases = (await this.factory.databases()).map((info) => info.name ?? "").filter((name) => name.startsWith(this.prefix));
    const changedSchemas: DatabaseSchema[] = [];
    for (const name of databases) {
      const schema = describe(await this.connection(name));
      const text = JSON.stringify(schema);
      if (this.schemas.get(name) !== text) {
        const before = this.schemas.get(name);
        changedSchemas.push(schema);
        // Stores that a schema change removed or added are rewritten whole.
        const had = before ? (JSON.parse(before) as DatabaseSchema).stores.map((store) => store.name) : [];
        const has = schema.stores.map((store) => store.name);
        for (const store of new Set([...had, ...has])) if (!had.includes(store) || !has.includes(store)) this.noteWrite(name, store, "all");
      }
    }
    if (this.dirty.size === 0 && changedSchemas.length === 0) return;
    const snapshot = this.dirty;
    this.dirty = new Map();
    const changes: DeviceStoreChanges = { schemas: changedSchemas, replaced: [], upserts: [], deletes: [] };
    try {
      for (const [dbName, stores] of snapshot) {
        if (!databases.includes(dbName)) continue;
        const db = await this.connection(dbName);
        const present = [...stores.keys()].filter((storeName) => db.objectStoreNames.contains(storeName));
        for (const storeName of stores.keys()) if (!present.includes(storeName)) changes.replaced.push({ db: dbName, store: storeName, entries: [] });
        if (present.length === 0) continue;
        // One read transaction over the database's changed stores: a consistent moment, all
        // requests issued at once so the transaction stays open until they are answered.
        const transaction = db.transaction(present, "readonly");
        const reads = present.map((storeName) => {
          const store = transaction.objectStore(storeName);
          const keys = stores.get(storeName);
          if (keys === "all") return { storeName, whole: Promise.all([done(store.getAllKeys()), done(store.getAll())]) };
          const list = [...(keys ?? [])];
          return { storeName, list, values: Promise.all(list.map((key) => done(store.get(decodeKey(key))))) };
        });
        for (const read of reads) {
          if ("whole" in read) {
            const [keys, values] = await (read.whole as Promise<[IdbKey[], unknown[]]>);
            changes.replaced.push({
              db: dbName,
              store: read.storeName,
              entries: keys.map((key, i) => this.seal(dbName, read.storeName, encodeKey(key), values[i])),
            });
            continue;
          }
          const values = await read.values;
          read.list.forEach((key, i) => {
            const value = values[i];
            if (value === undefined) changes.deletes.push({ db: dbName, store: read.storeName, key });
            else changes.upserts.push(this.seal(dbName, read.storeName, key, value));
          });
        }
      }
      await this.backend.apply(this.owner, changes);
      for (const schema of changedSchemas) this.schemas.set(schema.name, JSON.stringify(schema));
    } catch (error) {
      // Nothing is lost: the entries stay noted and the next flush stores them.
      for (const [dbName, stores] of snapshot)
        for (const [storeName, keys] of stores) {
          if (keys === "all") this.noteWrite(dbName, storeName, "all");
          else for (const key of keys) this.noteWrite(dbName, storeName, key);
        }
      throw error;
    }
  }

  /** Stops mirroring; the next device in this process starts from PostgreSQL again. */
  async close(): Promise<void> {
    await this.flushes.idle();
    for (const db of this.connections.values()) db.close();
    this.connections.clear();
    if (mirrors.get(this.prefix) === this) mirrors.delete(this.prefix);
  }
}
