import type { AgreementAction, AgreementStatus, AgreementTerms, Organisation } from "./agreement-terms.js";
import type { MessageType } from "./signed-message.js";

export type Side = "us" | "peer";

export interface AgreementRecord {
  id: string;
  peer: Organisation;
  proposedBy: Side;
  status: AgreementStatus;
  terms: AgreementTerms;
  createdAt: Date;
  updatedAt: Date;
  statusChangedBy: string | null;
  reason: string | null;
  /** Only the side that suspended may resume. */
  suspendedBy: Side | null;
}

export const MESSAGE_OF_ACTION: Record<AgreementAction, MessageType> = {
  accept: "agreement.accept",
  decline: "agreement.decline",
  suspend: "agreement.suspend",
  resume: "agreement.resume",
  revoke: "agreement.revoke",
};

export const ACTION_OF_MESSAGE: Partial<Record<MessageType, AgreementAction>> = Object.fromEntries(
  Object.entries(MESSAGE_OF_ACTION).map(([action, type]) => [type, action]),
) as Partial<Record<MessageType, AgreementAction>>;

/**
 * The agreement's state machine, the same on both sides: `side` is who acts, seen from here.
 * Returns the new status, or why the action is not allowed now.
 */
export function transition(
  agreement: Pick<AgreementRecord, "status" | "proposedBy" | "suspendedBy">,
  action: AgreementAction,
  side: Side,
): { ok: true; status: AgreementStatus; suspendedBy: Side | null } | { ok: false; why: string } {
  const { status } = agreement;
  switch (action) {
    case "accept":
    case "decline":
      if (status !== "proposed") return { ok: false, why: `only a proposed agreement can be ${action}ed; this one is ${status}` };
      if (agreement.proposedBy === side) return { ok: false, why: `the side that proposed an agreement cannot ${action} it` };
      return { ok: true, status: action === "accept" ? "active" : "declined", suspendedBy: null };
    case "suspend":
      if (status !== "active") return { ok: false, why: `only an active agreement can be suspended; this one is ${status}` };
      return { ok: true, status: "suspended", suspendedBy: side };
    case "resume":
      if (status !== "suspended") return { ok: false, why: `only a suspended agreement can be resumed; this one is ${status}` };
      if (agreement.suspendedBy !== side) return { ok: false, why: "only the side that suspended an agreement can resume it" };
      return { ok: true, status: "active", suspendedBy: null };
    case "revoke":
      if (status === "declined" || status === "revoked") return { ok: false, why: `the agreement is already ${status}` };
      return { ok: true, status: "revoked", suspendedBy: null };
  }
}
