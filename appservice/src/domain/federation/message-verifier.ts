import type { Clock } from "../clock.js";
import type { ErrorCode } from "../errors.js";
import { HandoverError } from "../errors.js";
import { isServerName } from "./expected-partners.js";
import type { MessageLog, PeerDirectory, VerifiedPeer } from "./ports.js";
import { MESSAGE_TYPES, type SignedMessage, signingInput, verifySignature } from "./signed-message.js";

export type RejectionReason =
  | "malformed"
  | "wrong_addressee"
  | "expired"
  | "not_yet_valid"
  | "unexpected_sender"
  | "unknown_key"
  | "bad_signature"
  | "replayed"
  | "unknown_agreement"
  | "not_allowed_now";

const CODE_OF: Record<RejectionReason, ErrorCode> = {
  malformed: "VALIDATION_FAILED",
  wrong_addressee: "FORBIDDEN",
  expired: "FORBIDDEN",
  not_yet_valid: "FORBIDDEN",
  unexpected_sender: "FORBIDDEN",
  unknown_key: "FORBIDDEN",
  bad_signature: "FORBIDDEN",
  replayed: "CONFLICT",
  unknown_agreement: "NOT_FOUND",
  not_allowed_now: "CONFLICT",
};

/** A peer's message refused; `reason` is stable and goes back to the sender. */
export class MessageRejected extends HandoverError {
  constructor(
    readonly reason: RejectionReason,
    message: string,
  ) {
    super(CODE_OF[reason], message);
  }
}

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

function parse(raw: unknown): SignedMessage {
  const m = raw as Record<string, unknown>;
  const strings = ["id", "type", "from", "to", "issued_at", "expires_at", "key_id", "agreement_id", "signature"];
  if (typeof m !== "object" || m === null || Array.isArray(m)) throw new MessageRejected("malformed", "the message is not a JSON object");
  for (const key of strings) {
    if (typeof m[key] !== "string" || (m[key] as string).length === 0 || (m[key] as string).length > 512) {
      throw new MessageRejected("malformed", `the message's ${key} is missing or not a string`);
    }
  }
  if (typeof m.payload !== "object" || m.payload === null || Array.isArray(m.payload))
    throw new MessageRejected("malformed", "the message's payload is not an object");
  if (!(MESSAGE_TYPES as readonly string[]).includes(m.type as string)) throw new MessageRejected("malformed", `unknown message type ${String(m.type)}`);
  if (!ISO.test(m.issued_at as string) || !ISO.test(m.expires_at as string))
    throw new MessageRejected("malformed", "issued_at and expires_at must be UTC ISO timestamps");
  const allowed = new Set([...strings, "payload"]);
  const extra = Object.keys(m).filter((key) => !allowed.has(key));
  if (extra.length > 0) throw new MessageRejected("malformed", `unknown fields: ${extra.join(", ")}`);
  if (!isServerName(m.from as string) || !isServerName(m.to as string)) throw new MessageRejected("malformed", "from and to must be Matrix server names");
  return m as unknown as SignedMessage;
}

export interface MessageVerifierDeps {
  ownServerName: string;
  clock: Clock;
  peers: PeerDirectory;
  log: Pick<MessageLog, "seen">;
  /** Known partners and admin-listed expected partners; nobody else makes Handover fetch anything. */
  senders: { mayContact(serverName: string): Promise<boolean> };
  /** Where the real cause of a failed key lookup goes (it is not told to the sender). */
  onLookupFailure(serverName: string, error: unknown): void;
  /** Longest lifetime accepted between issued_at and expires_at. */
  maxLifetimeMs: number;
  /** Tolerated difference between the two trusts' clocks. */
  clockSkewMs: number;
}

/**
 * Checks an inbound message before anything acts on it: shape, addressee, validity window,
 * whether the sender is a partner or expected partner (before any request is made for it),
 * the sender's published key (pinned, rotations followed), the signature, and replay.
 * Cheap checks come first; nothing is stored here.
 */
export class MessageVerifier {
  constructor(private readonly deps: MessageVerifierDeps) {}

  async verify(raw: unknown): Promise<{ message: SignedMessage; peer: VerifiedPeer }> {
    const message = parse(raw);
    const { deps } = this;
    if (message.to !== deps.ownServerName) throw new MessageRejected("wrong_addressee", `the message is addressed to ${message.to}, not ${deps.ownServerName}`);
    const now = deps.clock.now().getTime();
    const issued = Date.parse(message.issued_at);
    const expires = Date.parse(message.expires_at);
    if (issued > now + deps.clockSkewMs) throw new MessageRejected("not_yet_valid", "the message was issued in the future");
    if (expires <= now - deps.clockSkewMs) throw new MessageRejected("expired", `the message expired at ${message.expires_at}`);
    if (expires - issued > deps.maxLifetimeMs || expires <= issued) throw new MessageRejected("malformed", "the message's validity window is not acceptable");
    if (!(await deps.senders.mayContact(message.from)))
      throw new MessageRejected("unexpected_sender", `${message.from} is not a partner of this trust, nor listed as an expected partner`);
    let peer: VerifiedPeer;
    try {
      peer = await deps.peers.lookup(message.from);
    } catch (error) {
      // The cause may quote what the sender's server answered: log it here, tell the sender nothing of it.
      deps.onLookupFailure(message.from, error);
      if (error instanceof HandoverError && error.code === "PEER_UNAVAILABLE")
        throw new HandoverError("PEER_UNAVAILABLE", "the sender's published organisation could not be read");
      throw new MessageRejected("unknown_key", "the sender's published organisation could not be verified");
    }
    const key = peer.keys.byId.get(message.key_id);
    if (!key) throw new MessageRejected("unknown_key", `${message.from} does not publish the key ${message.key_id}`);
    if (key.retiredAt !== null && issued > key.retiredAt.getTime())
      throw new MessageRejected("unknown_key", `the key ${message.key_id} was replaced before the message was issued`);
    if (!verifySignature(key.publicKey, signingInput(message), message.signature))
      throw new MessageRejected("bad_signature", "the signature does not match the sender's key");
    if (await deps.log.seen(message.from, message.id)) throw new MessageRejected("replayed", `message ${message.id} was already received`);
    return { message, peer };
  }
}
