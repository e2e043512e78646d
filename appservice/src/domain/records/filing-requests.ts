import type { AuditRecorder } from "../audit/audit-trail.js";
import type { Clock } from "../clock.js";
import { HandoverError } from "../errors.js";
import type { FilingLedger } from "../filing/filed-range.js";
import { type ConfirmationPolicy, confirmationRefusal, wasTraced } from "./confirmation-policy.js";
import type { Filing, FilingStore } from "./filing.js";
import type { FilingPreview } from "./filing-composer.js";
import type { PatientLinkStore } from "./patient.js";

export interface FilingRequestDeps {
  filings: FilingStore;
  patients: PatientLinkStore;
  ledger: FilingLedger;
  preview(roomId: string, threadRootId: string | null, afterEventId: string | null): Promise<FilingPreview>;
  audit: AuditRecorder;
  clock: Clock;
  newExportId(): string;
  newConfirmCode(): string;
  confirmationTtlMs: number;
  /** False when the trust has no record destination configured. */
  destinationConfigured: boolean;
  /** Who may confirm in the room, and the trust's server name (only its users confirm there). */
  roomConfirmation: { policy: ConfirmationPolicy; localServer: string };
}

export type FilingVia = "command" | "portal";

/**
 * Asking to file and confirming: a filing covers everything since the last filing of the room
 * (or thread), is stated first (how many messages, which patient) and goes ahead only once
 * someone confirms. The range is fixed when it is requested, so what was shown is what is filed.
 */
export class FilingRequests {
  constructor(private readonly deps: FilingRequestDeps) {}

  async request(roomId: string, threadRootId: string | null, requestedBy: string, via: FilingVia): Promise<Filing> {
    if (!this.deps.destinationConfigured) {
      throw new HandoverError("CONFLICT", "Filing to the record is not set up for this trust (records.destination in Handover's config).");
    }
    const link = await this.deps.patients.find(roomId, threadRootId);
    if (!link) {
      throw new HandoverError("CONFLICT", "No patient is linked to this conversation. Link one first: !handover patient <NHS number>.");
    }
    const open = (await this.deps.filings.open(roomId, threadRootId)).filter((filing) => filing.status !== "awaiting_confirmation");
    if (open.length > 0) {
      throw new HandoverError("CONFLICT", `A filing of this conversation is still in progress (${open[0]?.status}); wait for it to finish or retry it.`);
    }
    const afterEventId = await this.lastFiledEvent(roomId, threadRootId);
    const preview = await this.deps.preview(roomId, threadRootId, afterEventId);
    const first = preview.messages[0];
    const last = preview.messages[preview.messages.length - 1];
    if (!first || !last || !preview.upToEvent) throw new HandoverError("CONFLICT", "There is nothing new to file since the last filing.");
    const now = this.deps.clock.now();
    const filing: Filing = {
      exportId: this.deps.newExportId(),
      roomId,
      threadRootId,
      patient: link.patient,
      status: "awaiting_confirmation",
      confirmCode: this.deps.newConfirmCode(),
      requestedBy,
      requestedAt: now,
      confirmedBy: null,
      confirmedAt: null,
      afterEventId,
      upToEventId: preview.upToEvent.eventId,
      upToTs: preview.upToEvent.ts,
      firstTs: first.sentAt,
      messageCount: preview.messages.length,
      attempts: 0,
      nextAttemptAt: null,
      lastError: null,
      filedAt: null,
      receipt: null,
    };
    await this.deps.filings.create(filing);
    await this.deps.audit.record({
      actor: requestedBy,
      action: "records.filing_requested",
      target: roomId,
      details: { exportId: filing.exportId, threadRootId, messageCount: filing.messageCount, via },
    });
    return filing;
  }

  /** Confirms a requested filing; the caller then makes the first attempt. */
  async confirm(filing: Filing, confirmedBy: string, via: FilingVia): Promise<Filing> {
    const now = this.deps.clock.now();
    if (filing.status !== "awaiting_confirmation")
      throw new HandoverError("CONFLICT", `This filing is ${filing.status.replace("_", " ")}, not awaiting confirmation.`);
    if (now.getTime() - filing.requestedAt.getTime() > this.deps.confirmationTtlMs) {
      await this.deps.filings.update(filing.exportId, { status: "cancelled", lastError: "not confirmed in time" });
      throw new HandoverError("CONFLICT", "This filing was not confirmed in time and has been cancelled. Ask again: !handover file.");
    }
    const confirmed: Filing = { ...filing, status: "sending", confirmedBy, confirmedAt: now, nextAttemptAt: now };
    await this.deps.filings.update(filing.exportId, { status: "sending", confirmedBy, confirmedAt: now, nextAttemptAt: now });
    await this.deps.audit.record({
      actor: confirmedBy,
      action: "records.filing_confirmed",
      target: filing.roomId,
      details: { exportId: filing.exportId, via },
    });
    return confirmed;
  }

  /** Who may confirm this filing in its room, for the request's reply. */
  whoConfirms(filing: Filing): string {
    const { policy } = this.deps.roomConfirmation;
    if (policy === "any-member" || (policy === "requester-if-traced" && wasTraced(filing))) return "A member of this room (you included)";
    return `A member of this room other than ${filing.requestedBy}`;
  }

  async confirmByCode(roomId: string, code: string, confirmedBy: string): Promise<Filing> {
    const filing = await this.deps.filings.awaitingConfirmation(roomId, code.toUpperCase());
    if (!filing) throw new HandoverError("NOT_FOUND", `No filing in this room is waiting for confirmation code ${code}.`);
    // The portal's confirmations are an admin's or IG lead's (the route's roles); in a room any
    // member could type the code, so the policy decides.
    const { policy, localServer } = this.deps.roomConfirmation;
    const refusal = confirmationRefusal(policy, filing, confirmedBy, localServer);
    if (refusal) {
      await this.deps.audit.record({
        actor: confirmedBy,
        action: "records.filing_confirmation_refused",
        target: roomId,
        details: { exportId: filing.exportId, policy, requestedBy: filing.requestedBy },
      });
      throw new HandoverError("FORBIDDEN", refusal);
    }
    return this.confirm(filing, confirmedBy, "command");
  }

  private async lastFiledEvent(roomId: string, threadRootId: string | null): Promise<string | null> {
    if (threadRootId === null) return (await this.deps.ledger.latestFiled(roomId))?.upToEventId ?? null;
    const ranges = (await this.deps.ledger.filedRanges(roomId)).filter((range) => range.threadRootId === threadRootId);
    return ranges[ranges.length - 1]?.upToEventId ?? null;
  }
}
