import type { AgreementRecord } from "../domain/federation/agreement.js";
import type { AgreementChangeListener, AgreementStore, MessageLog, StoredMessage } from "../domain/federation/ports.js";
import type { SignedMessage } from "../domain/federation/signed-message.js";

/** Hand-written fakes of the federation domain's ports. */

export class MemoryAgreementStore implements AgreementStore {
  readonly rows = new Map<string, AgreementRecord>();
  async get(id: string) {
    const row = this.rows.get(id);
    return row ? { ...row } : null;
  }
  async list() {
    return [...this.rows.values()].map((row) => ({ ...row }));
  }
  async insert(record: AgreementRecord) {
    if (this.rows.has(record.id)) throw new Error(`duplicate agreement ${record.id}`);
    this.rows.set(record.id, { ...record });
  }
  async update(id: string, fields: Pick<AgreementRecord, "status" | "updatedAt" | "statusChangedBy" | "reason" | "suspendedBy">) {
    const row = this.rows.get(id);
    if (row) this.rows.set(id, { ...row, ...fields });
  }
}

interface LoggedMessage extends StoredMessage {
  supersededBy: string | null;
}

export class MemoryMessageLog implements MessageLog {
  readonly messages: LoggedMessage[] = [];
  async seen(from: string, id: string) {
    return this.messages.some((entry) => entry.direction === "received" && entry.message.from === from && entry.message.id === id);
  }
  async recordReceived(message: SignedMessage, at: Date) {
    this.messages.push({ message, direction: "received", at, deliveredAt: null, lastError: null, supersededBy: null });
  }
  async recordSent(message: SignedMessage, at: Date) {
    this.messages.push({ message, direction: "sent", at, deliveredAt: null, lastError: null, supersededBy: null });
  }
  async markDelivered(id: string, at: Date) {
    for (const entry of this.sent(id)) entry.deliveredAt = at;
  }
  async markFailed(id: string, error: string) {
    for (const entry of this.sent(id)) entry.lastError = error;
  }
  async undelivered() {
    return this.pending().map((entry) => entry.message);
  }
  async markSuperseded(id: string, by: string) {
    for (const entry of this.sent(id)) entry.supersededBy = by;
  }
  async history(agreementId: string) {
    return this.messages.filter((entry) => entry.message.agreement_id === agreementId);
  }
  async undeliveredCount(agreementId: string) {
    return this.pending().filter((entry) => entry.message.agreement_id === agreementId).length;
  }
  private sent(id: string): LoggedMessage[] {
    return this.messages.filter((entry) => entry.direction === "sent" && entry.message.id === id);
  }
  private pending(): LoggedMessage[] {
    return this.messages.filter((entry) => entry.direction === "sent" && entry.deliveredAt === null && entry.supersededBy === null);
  }
}

/** Records each change it is told of, as enforcement would act on it. */
export class RecordingAgreementListener implements AgreementChangeListener {
  readonly changes: { agreementId: string; from: AgreementRecord["status"] | null; to: AgreementRecord["status"] }[] = [];
  async agreementsChanged(change: Parameters<AgreementChangeListener["agreementsChanged"]>[0]): Promise<void> {
    this.changes.push({ agreementId: change.agreement.id, from: change.previousStatus, to: change.agreement.status });
  }
}
