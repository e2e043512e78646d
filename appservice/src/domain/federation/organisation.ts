import { canonicalJson } from "../canonical-json.js";
import type { Organisation } from "./agreement-terms.js";
import { type Ed25519Key, verifySignature } from "./signed-message.js";

/** Where each Handover publishes its organisation document, on its web listener. */
export const WELL_KNOWN_PATH = "/.well-known/handover/organisation";
/** Where peers post signed messages. */
export const INBOX_PATH = "/_handover/federation/v1/inbox";

/** A key replaced by a newer one, with the old key's signature over the change. */
export interface RotationStatement {
  server_name: string;
  old_key_id: string;
  old_public_key: string;
  new_key_id: string;
  new_public_key: string;
  rotated_at: string;
  signature: string;
}

/** What a trust publishes at WELL_KNOWN_PATH. The whole document is signed by the current key. */
export interface OrganisationDocument {
  server_name: string;
  name: string;
  ods_code: string;
  contact: string;
  inbox_url: string;
  current_key: { key_id: string; public_key: string };
  rotations: RotationStatement[];
  signature: string;
}

function statementInput(statement: Omit<RotationStatement, "signature">): Buffer {
  return Buffer.from(canonicalJson(statement), "utf8");
}

export function signRotation(serverName: string, oldKey: Ed25519Key, newKey: Ed25519Key, at: Date): RotationStatement {
  const statement = {
    server_name: serverName,
    old_key_id: oldKey.keyId,
    old_public_key: oldKey.publicKey,
    new_key_id: newKey.keyId,
    new_public_key: newKey.publicKey,
    rotated_at: at.toISOString(),
  };
  return { ...statement, signature: oldKey.sign(statementInput(statement)) };
}

export function buildOrganisationDocument(organisation: Organisation, inboxUrl: string, key: Ed25519Key, rotations: RotationStatement[]): OrganisationDocument {
  const unsigned = {
    server_name: organisation.serverName,
    name: organisation.name,
    ods_code: organisation.odsCode,
    contact: organisation.contact,
    inbox_url: inboxUrl,
    current_key: { key_id: key.keyId, public_key: key.publicKey },
    rotations,
  };
  return { ...unsigned, signature: key.sign(Buffer.from(canonicalJson(unsigned), "utf8")) };
}

export interface PinnedKey {
  keyId: string;
  publicKey: string;
}

/** A peer's keys we trust, newest last: each one reached from the pinned key by signed rotations. */
export interface TrustedKeys {
  current: PinnedKey;
  /** key id -> public key and when it was replaced (null for the current key). */
  byId: Map<string, { publicKey: string; retiredAt: Date | null }>;
}

export type DocumentProblem = "malformed" | "wrong_server" | "bad_signature" | "unverified_rotation";

function isDocument(value: unknown): value is OrganisationDocument {
  const doc = value as OrganisationDocument;
  return (
    typeof doc === "object" &&
    doc !== null &&
    ["server_name", "name", "ods_code", "contact", "inbox_url", "signature"].every(
      (key) => typeof (doc as unknown as Record<string, unknown>)[key] === "string",
    ) &&
    typeof doc.current_key?.key_id === "string" &&
    typeof doc.current_key?.public_key === "string" &&
    Array.isArray(doc.rotations)
  );
}

/**
 * Checks a peer's published document: it names the expected server, is signed by its current
 * key, and that key is either the pinned one or reached from it by rotations each signed by the
 * key before. With no pin yet (first contact), the current key is trusted as published.
 */
export function verifyOrganisationDocument(
  raw: unknown,
  expectedServer: string,
  pinned: PinnedKey | null,
): { ok: true; document: OrganisationDocument; keys: TrustedKeys } | { ok: false; problem: DocumentProblem } {
  if (!isDocument(raw)) return { ok: false, problem: "malformed" };
  if (raw.server_name !== expectedServer) return { ok: false, problem: "wrong_server" };
  const { signature, ...unsigned } = raw;
  if (!verifySignature(raw.current_key.public_key, Buffer.from(canonicalJson(unsigned), "utf8"), signature)) return { ok: false, problem: "bad_signature" };
  const current = { keyId: raw.current_key.key_id, publicKey: raw.current_key.public_key };
  const byId = new Map<string, { publicKey: string; retiredAt: Date | null }>();
  const start = pinned ?? current;
  let walking: PinnedKey = start;
  const rotations = raw.rotations as RotationStatement[];
  // Follow the chain from the pinned key forward.
  for (;;) {
    if (walking.keyId === current.keyId && walking.publicKey === current.publicKey) break;
    const next = rotations.find((r) => r.old_key_id === walking.keyId && r.old_public_key === walking.publicKey);
    if (!next || next.server_name !== expectedServer) return { ok: false, problem: "unverified_rotation" };
    const { signature: statementSignature, ...statement } = next;
    if (!verifySignature(walking.publicKey, statementInput(statement), statementSignature)) return { ok: false, problem: "unverified_rotation" };
    byId.set(walking.keyId, { publicKey: walking.publicKey, retiredAt: new Date(next.rotated_at) });
    walking = { keyId: next.new_key_id, publicKey: next.new_public_key };
    if (byId.has(walking.keyId)) return { ok: false, problem: "unverified_rotation" };
  }
  byId.set(current.keyId, { publicKey: current.publicKey, retiredAt: null });
  return { ok: true, document: raw, keys: { current, byId } };
}
