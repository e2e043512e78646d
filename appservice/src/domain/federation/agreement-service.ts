import type { AuditRecorder } from "../audit/audit-trail.js";
import type { Clock } from "../clock.js";
import { HandoverError } from "../errors.js";
import { SerialQueue } from "../serial-queue.js";
import { ACTION_OF_MESSAGE, type AgreementRecord, MESSAGE_OF_ACTION, type Side, transition } from "./agreement.js";
import type { AgreementAction, AgreementTerms } from "./agreement-terms.js";
import { MessageRejected, type MessageVerifier } from "./message-verifier.js";
import type { AgreementChangeListener, AgreementStore, MessageLog, PeerDirectory, PeerTransport, SigningKeyRing, VerifiedPeer } from "./ports.js";
import { type MessageType, type SignedMessage, signMessage } from "./signed-message.js";

export interface AgreementServiceDeps {
  ownServerName: string;
  agreements: AgreementStore;
  log: MessageLog;
  peers: PeerDirectory;
  transport: PeerTransport;
  keys: SigningKeyRing;
  verifier: MessageVerifier;
  audit: AuditRecorder;
  clock: Clock;
  listener: AgreementChangeListener;
  onEnforcementError(error: unknown): void;
  newId: () => string;
  messageLifetimeMs: number;
}

const PEER_ACTOR = (serverName: string) => `peer:${serverName}`;

/**
 * Bilateral agreements: proposals, decisions and their signed messages. Both sides run the
 * same state machine; each change here is signed and sent to the partner, each change from the
 * partner arrives as a verified message. Inbound messages are verified side by side (a sender
 * whose key server is slow delays nobody else) and applied one at a time.
 */
export class AgreementService {
  private readonly inbound = new SerialQueue();
  private readonly enforcing = new Set<Promise<void>>();

  constructor(private readonly deps: AgreementServiceDeps) {}

  async propose(actor: string, peerServerName: string, terms: AgreementTerms): Promise<AgreementRecord> {
    const { deps } = this;
    if (peerServerName === deps.ownServerName) throw new HandoverError("VALIDATION_FAILED", "A trust cannot make an agreement with itself");
    const open = (await deps.agreements.list()).find((a) => a.peer.serverName === peerServerName && ["proposed", "active", "suspended"].includes(a.status));
    if (open) throw new HandoverError("CONFLICT", `There is already a ${open.status} agreement with ${peerServerName} (${open.id})`);
    const peer = await deps.peers.lookup(peerServerName);
    const now = deps.clock.now();
    const record: AgreementRecord = {
      id: deps.newId(),
      peer: { serverName: peer.serverName, name: peer.name, odsCode: peer.odsCode, contact: peer.contact },
      proposedBy: "us",
      status: "proposed",
      terms,
      createdAt: now,
      updatedAt: now,
      statusChangedBy: actor,
      reason: null,
      suspendedBy: null,
    };
    await deps.agreements.insert(record);
    const message = await this.send(record, "agreement.propose", { terms }, peer);
    await deps.audit.record({
      actor,
      action: "federation.agreement.proposed",
      target: record.id,
      details: { peer: peerServerName, scope: terms.scope, reviewDate: terms.reviewDate, messageId: message.id, delivered: await this.delivered(message) },
    });
    return record;
  }

  async act(actor: string, agreementId: string, action: AgreementAction, reason: string | undefined): Promise<AgreementRecord> {
    const { deps } = this;
    const agreement = await deps.agreements.get(agreementId);
    if (!agreement) throw new HandoverError("NOT_FOUND", "No such agreement");
    const next = transition(agreement, action, "us");
    if (!next.ok) throw new HandoverError("CONFLICT", `Cannot ${action}: ${next.why}`);
    const updated = await this.apply(agreement, next, actor, reason ?? null);
    const message = await this.sign(updated, MESSAGE_OF_ACTION[action], reason ? { reason } : {});
    await deps.log.recordSent(message, deps.clock.now());
    // This side's rooms follow the change while the partner is being told, not after its answer:
    // both trusts' ACLs are written side by side.
    this.enforce({ agreement: updated, previousStatus: agreement.status, message });
    await this.deliver(message);
    await deps.audit.record({
      actor,
      action: `federation.agreement.${action}`,
      target: agreement.id,
      details: { peer: agreement.peer.serverName, from: agreement.status, to: updated.status, reason: reason ?? null, signedMessage: message },
    });
    return updated;
  }

  /** Verifies and applies a partner's message; throws MessageRejected (nothing changes) if it is refused. */
  async receive(raw: unknown): Promise<AgreementRecord> {
    const verified = await this.deps.verifier.verify(raw);
    return this.inbound.run(() => this.applyVerified(verified));
  }

  private async applyVerified({ message, peer }: Awaited<ReturnType<MessageVerifier["verify"]>>): Promise<AgreementRecord> {
    const { deps } = this;
    // Checked again in the queue: two copies verified side by side must not both apply.
    if (await deps.log.seen(message.from, message.id)) throw new MessageRejected("replayed", `message ${message.id} was already received`);
    const now = deps.clock.now();
    const existing = await deps.agreements.get(message.agreement_id);
    const actor = PEER_ACTOR(message.from);
    if (message.type === "agreement.propose") {
      if (existing) throw new MessageRejected("not_allowed_now", `agreement ${message.agreement_id} already exists`);
      const terms = (message.payload as { terms?: unknown }).terms;
      const parsed = parseTerms(terms);
      const record: AgreementRecord = {
        id: message.agreement_id,
        peer: { serverName: peer.serverName, name: peer.name, odsCode: peer.odsCode, contact: peer.contact },
        proposedBy: "peer",
        status: "proposed",
        terms: parsed,
        createdAt: now,
        updatedAt: now,
        statusChangedBy: actor,
        reason: null,
        suspendedBy: null,
      };
      await deps.agreements.insert(record);
      await deps.log.recordReceived(message, now);
      await deps.audit.record({
        actor,
        action: "federation.agreement.received",
        target: record.id,
        details: { peer: peer.serverName, signedMessage: message },
      });
      return record;
    }
    if (!existing || existing.peer.serverName !== message.from)
      throw new MessageRejected("unknown_agreement", `no agreement ${message.agreement_id} with ${message.from}`);
    const action = ACTION_OF_MESSAGE[message.type as MessageType];
    if (!action) throw new MessageRejected("malformed", `unexpected message type ${message.type}`);
    const next = transition(existing, action, "peer");
    if (!next.ok) throw new MessageRejected("not_allowed_now", next.why);
    const reason = typeof message.payload.reason === "string" ? message.payload.reason.slice(0, 2000) : null;
    const updated = await this.apply(existing, next, actor, reason);
    await deps.log.recordReceived(message, now);
    await deps.audit.record({
      actor,
      action: `federation.agreement.${action}`,
      target: existing.id,
      details: { peer: existing.peer.serverName, from: existing.status, to: updated.status, reason, signedMessage: message },
    });
    this.enforce({ agreement: updated, previousStatus: existing.status, message });
    return updated;
  }

  /**
   * Enforcement (ACLs in every managed room, removing members) can take a while with many
   * rooms; it runs after the answer so neither the admin nor the partner's delivery waits.
   */
  private enforce(change: Parameters<AgreementChangeListener["agreementsChanged"]>[0]): void {
    const run = this.deps.listener.agreementsChanged(change).catch((error: unknown) => this.deps.onEnforcementError(error));
    this.enforcing.add(run);
    void run.finally(() => this.enforcing.delete(run));
  }

  /** Resolves when enforcement started so far has finished (tests, shutdown). */
  async idle(): Promise<void> {
    await Promise.all([...this.enforcing]);
  }

  /** Sends again what the partner has not acknowledged; a message past its expiry is re-issued under a new id. */
  async redeliver(): Promise<{ delivered: number; failed: number }> {
    const { deps } = this;
    let delivered = 0;
    let failed = 0;
    for (const message of await deps.log.undelivered()) {
      const agreement = await deps.agreements.get(message.agreement_id);
      if (!agreement) continue;
      let toSend = message;
      if (Date.parse(message.expires_at) <= deps.clock.now().getTime() + 5_000) {
        toSend = await this.sign(agreement, message.type, message.payload);
        await deps.log.recordSent(toSend, deps.clock.now());
        await deps.log.markSuperseded(message.id, toSend.id);
      }
      if (await this.deliver(toSend)) delivered++;
      else failed++;
    }
    return { delivered, failed };
  }

  private async apply(
    agreement: AgreementRecord,
    next: { status: AgreementRecord["status"]; suspendedBy: Side | null },
    actor: string,
    reason: string | null,
  ): Promise<AgreementRecord> {
    const fields = { status: next.status, suspendedBy: next.suspendedBy, updatedAt: this.deps.clock.now(), statusChangedBy: actor, reason };
    await this.deps.agreements.update(agreement.id, fields);
    return { ...agreement, ...fields };
  }

  private async sign(agreement: AgreementRecord, type: MessageType, payload: Record<string, unknown>): Promise<SignedMessage> {
    const { deps } = this;
    const key = await deps.keys.current();
    const issued = deps.clock.now();
    return signMessage(
      {
        id: deps.newId(),
        type,
        from: deps.ownServerName,
        to: agreement.peer.serverName,
        issued_at: issued.toISOString(),
        expires_at: new Date(issued.getTime() + deps.messageLifetimeMs).toISOString(),
        key_id: key.keyId,
        agreement_id: agreement.id,
        payload,
      },
      key,
    );
  }

  private async send(agreement: AgreementRecord, type: MessageType, payload: Record<string, unknown>, peer?: VerifiedPeer): Promise<SignedMessage> {
    const message = await this.sign(agreement, type, payload);
    await this.deps.log.recordSent(message, this.deps.clock.now());
    await this.deliver(message, peer);
    return message;
  }

  private async deliver(message: SignedMessage, known?: VerifiedPeer): Promise<boolean> {
    const { deps } = this;
    try {
      const peer = known ?? (await deps.peers.lookup(message.to));
      await deps.transport.deliver(peer.inboxUrl, message);
      await deps.log.markDelivered(message.id, deps.clock.now());
      return true;
    } catch (error) {
      await deps.log.markFailed(message.id, (error as Error).message.slice(0, 1000));
      return false;
    }
  }

  private async delivered(message: SignedMessage): Promise<boolean> {
    return (await this.deps.log.undeliveredCount(message.agreement_id)) === 0;
  }
}

function parseTerms(raw: unknown): AgreementTerms {
  const terms = raw as AgreementTerms;
  const scope = terms?.scope as { kind?: unknown; spaces?: unknown } | undefined;
  const validScope =
    scope?.kind === "all" ||
    (scope?.kind === "spaces" &&
      Array.isArray(scope.spaces) &&
      scope.spaces.length > 0 &&
      scope.spaces.every((s) => typeof s === "string" && s.startsWith("!")));
  const text = (value: unknown) => typeof value === "string" && value.trim().length >= 3 && value.length <= 2000;
  if (!validScope || !text(terms.purpose) || !text(terms.retention) || typeof terms.reviewDate !== "string" || !/^\d{4}-\d{2}-\d{2}$/.test(terms.reviewDate)) {
    throw new MessageRejected("malformed", "the proposal's terms are incomplete or invalid");
  }
  return {
    scope: scope.kind === "all" ? { kind: "all" } : { kind: "spaces", spaces: scope.spaces as string[] },
    purpose: terms.purpose,
    reviewDate: terms.reviewDate,
    retention: terms.retention,
  };
}
