import type { AuditRecorder } from "../audit/audit-trail.js";
import type { Clock } from "../clock.js";
import { type RotationStatement, signRotation } from "./organisation.js";
import type { SigningKeyRing } from "./ports.js";
import { Ed25519Key } from "./signed-message.js";

export interface StoredSigningKey {
  key: Ed25519Key;
  createdAt: Date;
  retiredAt: Date | null;
  /** The statement, signed by the previous key, that introduced this one (null for the first key). */
  rotation: RotationStatement | null;
}

/** Keys oldest first; the private half is encrypted by the store, never by the domain. */
export interface SigningKeyStore {
  all(): Promise<StoredSigningKey[]>;
  /** Adds the new current key and retires the previous one, atomically; false if another process won. */
  add(key: StoredSigningKey, retiring: string | null): Promise<boolean>;
}

/** This trust's Ed25519 signing keys: created on first use, rotated with a statement signed by the old key. */
export class SigningKeys implements SigningKeyRing {
  private cached: StoredSigningKey[] | null = null;

  constructor(private readonly deps: { store: SigningKeyStore; clock: Clock; audit: AuditRecorder; serverName: string; newKeyId: () => string }) {}

  async all(): Promise<StoredSigningKey[]> {
    if (!this.cached) {
      let keys = await this.deps.store.all();
      if (keys.length === 0) {
        const key = Ed25519Key.generate(`ed25519:${this.deps.newKeyId()}`);
        await this.deps.store.add({ key, createdAt: this.deps.clock.now(), retiredAt: null, rotation: null }, null);
        keys = await this.deps.store.all();
        await this.deps.audit.record({ actor: "handover:federation", action: "federation.key.created", target: keys.at(-1)?.key.keyId ?? "", details: {} });
      }
      this.cached = keys;
    }
    return this.cached;
  }

  async current(): Promise<Ed25519Key> {
    const keys = await this.all();
    const current = keys.at(-1);
    if (!current) throw new Error("no signing key");
    return current.key;
  }

  async rotations(): Promise<RotationStatement[]> {
    return (await this.all()).flatMap((k) => (k.rotation ? [k.rotation] : []));
  }

  async rotate(actor: string): Promise<StoredSigningKey> {
    const old = await this.current();
    const now = this.deps.clock.now();
    const key = Ed25519Key.generate(`ed25519:${this.deps.newKeyId()}`);
    const stored = { key, createdAt: now, retiredAt: null, rotation: signRotation(this.deps.serverName, old, key, now) };
    this.cached = null;
    await this.deps.store.add(stored, old.keyId);
    await this.deps.audit.record({
      actor,
      action: "federation.key.rotated",
      target: key.keyId,
      details: { previousKeyId: old.keyId, rotation: stored.rotation },
    });
    return stored;
  }
}
