import type { AgreementRecord } from "./agreement.js";
import type { TrustedKeys } from "./organisation.js";
import type { Ed25519Key, SignedMessage } from "./signed-message.js";

/** The narrow interfaces the federation domain talks to the world through. */

export interface AgreementStore {
  get(id: string): Promise<AgreementRecord | null>;
  list(): Promise<AgreementRecord[]>;
  insert(record: AgreementRecord): Promise<void>;
  update(id: string, fields: Pick<AgreementRecord, "status" | "updatedAt" | "statusChangedBy" | "reason" | "suspendedBy">): Promise<void>;
}

export interface StoredMessage {
  message: SignedMessage;
  direction: "sent" | "received";
  at: Date;
  deliveredAt: Date | null;
  lastError: string | null;
}

export interface MessageLog {
  /** Whether a message with this id was already received from this sender. */
  seen(from: string, id: string): Promise<boolean>;
  recordReceived(message: SignedMessage, at: Date): Promise<void>;
  recordSent(message: SignedMessage, at: Date): Promise<void>;
  markDelivered(id: string, at: Date): Promise<void>;
  markFailed(id: string, error: string): Promise<void>;
  /** Sent messages not delivered yet and not superseded, oldest first. */
  undelivered(): Promise<SignedMessage[]>;
  markSuperseded(id: string, by: string): Promise<void>;
  history(agreementId: string): Promise<StoredMessage[]>;
  undeliveredCount(agreementId: string): Promise<number>;
}

/** A peer's verified organisation: its published document checked against the pinned key. */
export interface VerifiedPeer {
  serverName: string;
  name: string;
  odsCode: string;
  contact: string;
  inboxUrl: string;
  keys: TrustedKeys;
}

export interface PeerDirectory {
  /** Fetches and verifies the peer's published organisation; pins its key on first contact. */
  lookup(serverName: string): Promise<VerifiedPeer>;
}

export interface PeerTransport {
  /** Posts a signed message to the peer's inbox; throws when it is not accepted. */
  deliver(inboxUrl: string, message: SignedMessage): Promise<void>;
}

export interface SigningKeyRing {
  current(): Promise<Ed25519Key>;
}

/** Told when the set of partners or their status changes, so enforcement follows at once. */
export interface AgreementChangeListener {
  agreementsChanged(change: { agreement: AgreementRecord; previousStatus: AgreementRecord["status"] | null; message: SignedMessage }): Promise<void>;
}
