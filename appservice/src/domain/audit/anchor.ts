import { createHash, createPrivateKey, createPublicKey, type KeyObject, sign, verify } from "node:crypto";
import { canonicalJson } from "../canonical-json.js";
import type { Clock } from "../clock.js";
import type { ChainHead } from "./chain.js";

/**
 * The chain alone cannot stop someone with the database owner's rights: they can rewrite every
 * entry and the head consistently. So the head is also anchored outside PostgreSQL: signed and
 * posted to the trust's audit room on Synapse (another database, another role), optionally to
 * syslog too. `audit verify` then checks the chain against every anchor.
 *
 * Signed with Ed25519 rather than an HMAC: whoever verifies needs only the public key, so a copy
 * of the verifying key (in an auditor's hands, in a SIEM rule) cannot be used to forge anchors.
 */
export interface AuditAnchor extends ChainHead {
  /** When the anchor was made (ISO 8601). */
  at: string;
  /** The trust's server name: an anchor copied from another trust's room does not verify here. */
  server: string;
}

export interface SignedAuditAnchor extends AuditAnchor {
  keyId: string;
  /** Ed25519 signature of the anchor's canonical JSON, base64. */
  signature: string;
}

/** An anchor as it was found outside the database, with where it was found (e.g. an event id). */
export interface PublishedAnchor {
  anchor: SignedAuditAnchor;
  where: string;
}

/** A message of the bot's in the audit room whose content was redacted: an anchor, deleted. */
export interface DeletedAnchor {
  where: string;
  /** Who redacted it, when the homeserver says. */
  by: string | null;
  /** The newest anchor still readable before it (0: none): the deleted one named a later entry. */
  afterSeq: number;
}

/** Somewhere an anchor is written: the audit room, syslog. */
export interface AnchorSink {
  readonly name: string;
  publish(anchor: SignedAuditAnchor): Promise<void>;
}

/** Where anchors are read back from for verification (the audit room). */
export interface AnchorSource {
  anchors(): Promise<PublishedAnchor[]>;
}

// PKCS#8 DER prefix of an Ed25519 private key: the 32-byte seed follows it.
const ED25519_PKCS8_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");

function signedBytes(anchor: AuditAnchor): Buffer {
  return Buffer.from(canonicalJson({ type: "org.handover.audit_anchor", seq: anchor.seq, hash: anchor.hash, at: anchor.at, server: anchor.server }));
}

/** Signs and checks anchors with the Ed25519 key whose 32-byte seed is in the config (base64). */
export class AnchorSigner {
  readonly keyId: string;
  private readonly privateKey: KeyObject;
  private readonly publicKey: KeyObject;

  constructor(seedBase64: string) {
    const seed = Buffer.from(seedBase64, "base64");
    if (seed.length !== 32) throw new Error("the audit signing key must be 32 random bytes, base64 (openssl rand -base64 32)");
    this.privateKey = createPrivateKey({ key: Buffer.concat([ED25519_PKCS8_PREFIX, seed]), format: "der", type: "pkcs8" });
    this.publicKey = createPublicKey(this.privateKey);
    const raw = this.publicKey.export({ format: "der", type: "spki" });
    this.keyId = `ed25519:${createHash("sha256").update(raw).digest("hex").slice(0, 16)}`;
  }

  sign(anchor: AuditAnchor): SignedAuditAnchor {
    return { ...anchor, keyId: this.keyId, signature: sign(null, signedBytes(anchor), this.privateKey).toString("base64") };
  }

  isValid(anchor: SignedAuditAnchor): boolean {
    if (anchor.keyId !== this.keyId) return false;
    return verify(null, signedBytes(anchor), this.publicKey, Buffer.from(anchor.signature, "base64"));
  }
}

export interface AnchorPublisherDeps {
  head(): Promise<ChainHead | null>;
  signer: AnchorSigner;
  /** The first sink is the one verification reads back; it must succeed. Others are copies. */
  sinks: AnchorSink[];
  server: string;
  clock: Clock;
  onSinkFailed(sink: string, error: unknown): void;
}

/** Posts the chain's head when it has moved since the last anchor this process posted. */
export class AnchorPublisher {
  private lastAnchoredSeq: number | null = null;

  constructor(private readonly deps: AnchorPublisherDeps) {}

  /** The anchor posted, or null when the head has not moved. */
  async anchorNow(): Promise<SignedAuditAnchor | null> {
    const head = await this.deps.head();
    if (head === null || head.seq === this.lastAnchoredSeq) return null;
    const anchor = this.deps.signer.sign({ seq: head.seq, hash: head.hash, at: this.deps.clock.now().toISOString(), server: this.deps.server });
    const [primary, ...copies] = this.deps.sinks;
    if (primary) await primary.publish(anchor);
    for (const sink of copies) {
      await sink.publish(anchor).catch((error: unknown) => this.deps.onSinkFailed(sink.name, error));
    }
    this.lastAnchoredSeq = head.seq;
    return anchor;
  }
}

export interface AnchorProblem {
  seq: number;
  problem: string;
}

/**
 * Checks the chain, entry by entry as the verifier reads it, against anchors read back from
 * outside the database: each anchored entry must still have the anchored hash.
 */
export class AnchorCheck {
  private readonly bySeq = new Map<number, PublishedAnchor[]>();
  private readonly matched = new Set<PublishedAnchor>();
  readonly problems: AnchorProblem[] = [];

  constructor(published: PublishedAnchor[], signer: AnchorSigner, server: string, deleted: readonly DeletedAnchor[] = []) {
    // Without this, whoever can rewrite the chain and redact in the audit room leaves only the anchors that still agree.
    for (const gone of deleted) {
      this.problems.push({
        seq: gone.afterSeq,
        problem: `an anchor after entry ${gone.afterSeq} was deleted: ${gone.where} (the bot's message in the audit room) was redacted by ${gone.by ?? "someone"}`,
      });
    }
    for (const entry of published) {
      const { anchor } = entry;
      if (anchor.server !== server || !signer.isValid(anchor)) {
        this.problems.push({
          seq: anchor.seq,
          problem: `${describe(entry)} is not signed by this Handover's audit key for this server: someone else wrote it`,
        });
        continue;
      }
      const list = this.bySeq.get(anchor.seq) ?? [];
      list.push(entry);
      this.bySeq.set(anchor.seq, list);
    }
  }

  get anchors(): number {
    return [...this.bySeq.values()].reduce((total, list) => total + list.length, 0);
  }

  get matchedCount(): number {
    return this.matched.size;
  }

  /** Called with each entry's seq and hash, in order. */
  see(seq: number, hash: string): void {
    for (const entry of this.bySeq.get(seq) ?? []) {
      if (entry.anchor.hash === hash) this.matched.add(entry);
      else
        this.problems.push({
          seq,
          problem: `the chain was rewritten: it no longer matches ${describe(entry)}, which says entry ${seq} had hash ${entry.anchor.hash.slice(0, 16)}…`,
        });
    }
  }

  /** After the last entry: anchors beyond it name entries that are gone. */
  finish(lastSeq: number): void {
    for (const [seq, list] of this.bySeq) {
      if (seq <= lastSeq) continue;
      for (const entry of list)
        this.problems.push({ seq, problem: `entries were deleted: ${describe(entry)} names entry ${seq}, but the trail ends at ${lastSeq}` });
    }
    this.problems.sort((a, b) => a.seq - b.seq);
  }
}

function describe({ anchor, where }: PublishedAnchor): string {
  return `anchor ${where} (entry ${anchor.seq}, ${anchor.at})`;
}
