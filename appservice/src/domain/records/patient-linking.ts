import type { AuditRecorder } from "../audit/audit-trail.js";
import type { Clock } from "../clock.js";
import { HandoverError } from "../errors.js";
import { describeNhsNumberProblem, parseNhsNumber } from "./nhs-number.js";
import type { PatientDirectory, PatientLink, PatientLinkStore } from "./patient.js";
import type { PatientLookupGate, PatientLookupOutcome } from "./patient-lookup-gate.js";

export type { PatientLookupOutcome } from "./patient-lookup-gate.js";

export interface PatientLinkingDeps {
  links: PatientLinkStore;
  /** Who may look up, where and how often; audits every lookup. Null when `records.patientLookup` is not configured. */
  gate: PatientLookupGate | null;
  /** Null when the trust's record cannot be searched (a file drop). */
  directory: PatientDirectory | null;
  audit: AuditRecorder;
  clock: Clock;
}

/** Links a conversation to a patient by NHS number, looking the patient up where the record allows. */
export class PatientLinking {
  constructor(private readonly deps: PatientLinkingDeps) {}

  /**
   * The conversation's linked patient, for the bot to name to `actor`: only to whom the lookup
   * gate would let look the patient up (the trust's own staff, in a clinical room); a refusal
   * is a FORBIDDEN HandoverError, audited. Null when nothing is linked.
   */
  async linkedFor(roomId: string, threadRootId: string | null, actor: string, via: "command" | "portal"): Promise<PatientLink | null> {
    const link = await this.deps.links.find(roomId, threadRootId);
    if (!link) return null;
    if (!this.deps.gate) throw new HandoverError("CONFLICT", "Linking patients is not set up for this trust (records.patientLookup in Handover's config).");
    await this.deps.gate.admitViewer({ actor, roomId, threadRootId, nhsNumber: link.patient.nhsNumber, via });
    return link;
  }

  async link(
    roomId: string,
    threadRootId: string | null,
    nhsNumberText: string,
    actor: string,
    via: "command" | "portal",
  ): Promise<{ link: PatientLink; lookup: PatientLookupOutcome }> {
    const parsed = parseNhsNumber(nhsNumberText);
    if (!parsed.ok)
      throw new HandoverError("VALIDATION_FAILED", describeNhsNumberProblem(parsed.problem), [
        { path: "nhsNumber", message: describeNhsNumberProblem(parsed.problem) },
      ]);
    // Without the audit key a lookup could not be accounted for, so there is none.
    if (!this.deps.gate) throw new HandoverError("CONFLICT", "Linking patients is not set up for this trust (records.patientLookup in Handover's config).");
    const admitted = await this.deps.gate.admit({ actor, roomId, threadRootId, nhsNumber: parsed.value, via });
    let lookup: PatientLookupOutcome = "not-searched";
    let found: { name: string | null; birthDate: string | null } | null = null;
    if (this.deps.directory) {
      try {
        found = await this.deps.directory.lookup(parsed.value);
        lookup = found ? "found" : "not-found";
      } catch {
        lookup = "unavailable";
      }
    }
    const link: PatientLink = {
      roomId,
      threadRootId,
      patient: { nhsNumber: parsed.value, name: found?.name ?? null, birthDate: found?.birthDate ?? null, verified: found !== null },
      linkedBy: actor,
      linkedAt: this.deps.clock.now(),
    };
    await this.deps.gate.settle(admitted, lookup);
    await this.deps.links.save(link);
    // Never the NHS number itself: the audit trail must not identify patients.
    await this.deps.audit.record({
      actor,
      action: "records.patient_linked",
      target: roomId,
      details: { threadRootId, via, lookup, nhsNumberHash: admitted.nhsNumberHash },
    });
    return { link, lookup };
  }
}
