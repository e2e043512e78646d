import { IDBKeyRange } from "fake-indexeddb";
import { describe, expect, it } from "vitest";
import { MemoryDeviceStore } from "../testing/memory-device-store.js";
import { decodeKey, encodeKey, PersistentIndexedDb } from "./persistent-idb.js";
import { StateCipher } from "./state-cipher.js";

// biome-ignore lint/suspicious/noExplicitAny: IndexedDB is untyped here (no DOM lib in the appservice's types)
type Any = any;
const request = <T>(req: Any): Promise<T> =>
  new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result as T);
    req.onerror = () => reject(req.error);
  });
const complete = (tx: Any): Promise<void> =>
  new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
  });

async function openDb(mirror: PersistentIndexedDb, name: string, version: number, upgrade?: (db: Any) => void): Promise<Any> {
  const open: Any = mirror.factory.open(name, version);
  if (upgrade) open.onupgradeneeded = () => upgrade(open.result);
  return request(open);
}

async function contents(mirror: PersistentIndexedDb, name: string): Promise<Record<string, [unknown, unknown][]>> {
  const db = await openDb(mirror, name, (await mirror.factory.databases()).find((d) => d.name === name)?.version ?? 1);
  const out: Record<string, [unknown, unknown][]> = {};
  for (const store of Array.from(db.objectStoreNames as ArrayLike<string>)) {
    const os = db.transaction(store, "readonly").objectStore(store);
    const [keys, values] = await Promise.all([request<unknown[]>(os.getAllKeys()), request<unknown[]>(os.getAll())]);
    out[store] = keys.map((key, i) => [key, values[i]]);
  }
  db.close();
  return out;
}

describe("PersistentIndexedDb", () => {
  it("turns IndexedDB keys into stable text and back", () => {
    const bytes = new Uint8Array([1, 2, 250]);
    for (const key of ["all", "", "a[x]", 42, -1.5, ["room", ["session", 3]], new Date(5)]) expect(decodeKey(encodeKey(key))).toEqual(key);
    expect(new Uint8Array(decodeKey(encodeKey(bytes)) as ArrayBuffer)).toEqual(bytes);
    expect(encodeKey("all")).not.toBe("all");
    expect(() => encodeKey({})).toThrow(/not an IndexedDB key/);
    expect(() => decodeKey("x1")).toThrow(/bad stored/);
  });

  it("mirrors puts, cursor updates and deletes, range deletes, clears and schema changes, sealed, and restores them", async () => {
    const backend = new MemoryDeviceStore();
    const cipher = new StateCipher("unit-test-state-key-0123456789-0123456789");
    const mirror = new PersistentIndexedDb("@bot:x", "dev1", backend, cipher);
    await mirror.reset();
    const name = "dev1::crypto";
    let db = await openDb(mirror, name, 1, (d) => {
      d.createObjectStore("sessions");
      d.createObjectStore("keys").createIndex("by_room", "room", { unique: false, multiEntry: false });
      d.createObjectStore("gone");
    });
    let tx = db.transaction(["sessions", "keys", "gone"], "readwrite");
    for (let i = 0; i < 5; i++) tx.objectStore("sessions").put({ pickle: `secret-${i}`, bytes: new Uint8Array([i]) }, ["alice", i]);
    tx.objectStore("keys").put({ room: "!r", n: 1 }, "k1");
    tx.objectStore("keys").add({ room: "!r", n: 2 }, "k2");
    tx.objectStore("gone").put("x", 1);
    await complete(tx);
    expect(mirror.pending).toBe(true);
    await mirror.flush();
    expect(mirror.pending).toBe(false);
    expect(backend.entries.size).toBe(8);
    for (const entry of backend.entries.values()) expect(entry.sealed.toString("latin1")).not.toContain("secret");

    tx = db.transaction(["sessions", "keys"], "readwrite");
    tx.objectStore("sessions").delete(IDBKeyRange.bound(["alice", 0], ["alice", 1]));
    const cursorDone = new Promise<void>((resolve) => {
      const req = tx.objectStore("keys").index("by_room").openCursor();
      req.onsuccess = () => {
        const cursor = req.result;
        if (!cursor) return resolve();
        if (cursor.value.n === 1) cursor.update({ ...cursor.value, n: 10 });
        else cursor.delete();
        cursor.continue();
      };
    });
    await cursorDone;
    await complete(tx);
    // A failed write to PostgreSQL loses nothing: the next flush stores it.
    backend.failNext = true;
    await expect(mirror.flush()).rejects.toThrow(/database down/);
    await mirror.flush();
    db.close();
    db = await openDb(mirror, name, 2, (d) => d.deleteObjectStore("gone"));
    tx = db.transaction("sessions", "readwrite");
    tx.objectStore("sessions").put({ pickle: "new" }, ["bob", 0]);
    await complete(tx);
    db.close();
    await mirror.flush();
    const expected = await contents(mirror, name);
    expect(Object.keys(expected).sort()).toEqual(["keys", "sessions"]);
    expect(expected.keys).toEqual([["k1", { room: "!r", n: 10 }]]);
    expect(expected.sessions).toHaveLength(4);
    await mirror.close();

    const restored = new PersistentIndexedDb("@bot:x", "dev1", backend, cipher);
    expect(await restored.restore()).toBe(5);
    expect(await contents(restored, name)).toEqual(expected);
    const index = (await openDb(restored, name, 2)).transaction("keys", "readonly").objectStore("keys").index("by_room");
    expect(index.keyPath).toBe("room");
    await restored.close();

    const wrongKey = new PersistentIndexedDb("@bot:x", "dev1", backend, new StateCipher("another-state-key-0123456789-0123456789"));
    await expect(wrongKey.restore()).rejects.toThrow(/cannot be read/);
  });
});
