import type { FilingStatus, PatientSummary } from "@handover/appservice/contract";

export const FILING_STATUS_LABELS: Record<FilingStatus, string> = {
  awaiting_confirmation: "Awaiting confirmation",
  sending: "Sending",
  retrying: "Will retry",
  filed: "Filed",
  failed: "Failed",
  cancelled: "Cancelled",
};

export const FILING_STATUS_TAGS: Record<FilingStatus, string> = {
  awaiting_confirmation: "nhsuk-tag--blue",
  sending: "nhsuk-tag--blue",
  retrying: "nhsuk-tag--orange",
  filed: "nhsuk-tag--green",
  failed: "nhsuk-tag--red",
  cancelled: "nhsuk-tag--grey",
};

export function formatNhsNumber(digits: string): string {
  return `${digits.slice(0, 3)} ${digits.slice(3, 6)} ${digits.slice(6)}`;
}

export function describePatient(patient: PatientSummary): string {
  const nhs = `NHS number ${formatNhsNumber(patient.nhsNumber)}`;
  if (!patient.name && !patient.birthDate) return nhs;
  return `${patient.name ?? "Name unknown"}${patient.birthDate ? ` (born ${patient.birthDate})` : ""}, ${nhs}`;
}
