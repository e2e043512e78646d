import { serverNameOf } from "../matrix-event.js";
import type { Filing } from "./filing.js";

/**
 * Who may confirm a filing asked for in a room (`records.patientLookup.confirmation`):
 * - `requester-if-traced`: the person who asked may confirm only when the number was found in
 *   the trust's record and the name and date of birth were shown with the request, so the
 *   request itself was checked against the patient; otherwise another member confirms.
 * - `another-member`: never the person who asked (two people every time).
 * - `any-member`: any joined member, the person who asked included.
 */
export type ConfirmationPolicy = "requester-if-traced" | "another-member" | "any-member";

/** Whether the request showed the patient as found in the record, with name and date of birth. */
export function wasTraced(filing: Pick<Filing, "patient">): boolean {
  return filing.patient.verified && filing.patient.name !== null && filing.patient.birthDate !== null;
}

/** Null when `confirmer` may confirm `filing` in the room, otherwise the reason they may not. */
export function confirmationRefusal(
  policy: ConfirmationPolicy,
  filing: Pick<Filing, "patient" | "requestedBy">,
  confirmer: string,
  localServer: string,
): string | null {
  // Filing writes into this trust's record: a partner trust's member of the room cannot vouch for it.
  if (serverNameOf(confirmer) !== localServer) return `Only this trust's own staff (users on ${localServer}) can confirm a filing.`;
  if (confirmer !== filing.requestedBy || policy === "any-member") return null;
  if (policy === "another-member") return "You asked for this filing, so another member of this room confirms it.";
  if (wasTraced(filing)) return null;
  return "You asked for this filing and the patient's NHS number was not found in the trust's record (no name and date of birth to check), so another member of this room confirms it.";
}
