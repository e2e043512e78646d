import type { Bundle, Coding, Communication, DocumentReference, Identifier, Patient } from "@medplum/fhirtypes";
import { NHS_NUMBER_VERIFICATION_STATUS, NHS_NUMBER_VERIFICATION_STATUS_SYSTEM, UK_CORE_DOCUMENT_REFERENCE } from "./fhir-bundle.js";
import { isValidNhsNumberDigits, NHS_NUMBER_SYSTEM } from "./nhs-number.js";

export const SNOMED_SYSTEM = "http://snomed.info/sct";
export const LOINC_SYSTEM = "http://loinc.org";

/** Structural FHIR validation (Medplum's validateResource behind an adapter). */
export interface StructuralValidator {
  /** Problems found, as "path: message"; empty when valid. */
  validate(resource: Bundle): string[];
}

// Verhoeff tables: SNOMED CT identifiers end in a Verhoeff check digit.
const D = [
  [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
  [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
  [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
  [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
  [4, 0, 1, 2, 3, 9, 5, 6, 7, 8],
  [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
  [6, 5, 9, 8, 7, 1, 0, 4, 3, 2],
  [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
  [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
  [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
];
const P = [
  [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
  [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
  [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
  [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
  [9, 4, 5, 3, 1, 2, 6, 8, 7, 0],
  [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
  [2, 7, 9, 3, 8, 0, 6, 4, 1, 5],
  [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
];

/** A SNOMED CT concept id: 6-18 digits, no leading zero, valid Verhoeff check digit. */
export function isSnomedConceptId(code: string): boolean {
  if (!/^[1-9]\d{5,17}$/.test(code)) return false;
  let check = 0;
  [...code].reverse().forEach((digit, index) => {
    check = D[check]?.[P[index % 8]?.[Number(digit)] ?? 0] ?? 0;
  });
  return check === 0;
}

/** A LOINC code: digits, a dash, a mod-10 check digit. */
export function isLoincCode(code: string): boolean {
  const match = /^(\d{1,7})-(\d)$/.exec(code);
  if (!match) return false;
  const digits = [...(match[1] as string)].reverse().map(Number);
  let sum = 0;
  digits.forEach((digit, index) => {
    const value = index % 2 === 0 ? digit * 2 : digit;
    sum += value > 9 ? value - 9 : value;
  });
  return (10 - (sum % 10)) % 10 === Number(match[2]);
}

/** Problems with one coding: known systems must carry well-formed codes. */
export function codingProblems(coding: Coding, path: string): string[] {
  if (!coding.system || !coding.code) return [`${path}: needs a system and a code`];
  if (coding.system === SNOMED_SYSTEM && !isSnomedConceptId(coding.code)) return [`${path}: ${coding.code} is not a SNOMED CT concept id (check digit)`];
  if (coding.system === LOINC_SYSTEM && !isLoincCode(coding.code)) return [`${path}: ${coding.code} is not a LOINC code (check digit)`];
  return [];
}

/** UK Core's NHS number verification status codes (CodeSystem UKCore-NHSNumberVerificationStatusEngland). */
const VERIFICATION_STATUS_CODES = new Set(["01", "02", "03", "04", "05", "06", "07", "08"]);

function nhsNumberProblems(identifier: Identifier | undefined, path: string): string[] {
  if (identifier?.system !== NHS_NUMBER_SYSTEM) return [`${path}: must identify the patient by NHS number (${NHS_NUMBER_SYSTEM})`];
  if (!isValidNhsNumberDigits(identifier.value ?? "")) return [`${path}: NHS number fails the modulus 11 check`];
  return [];
}

/** The verification status sits on the contained Patient's NHS number (the extension's context is Patient.identifier). */
function verificationProblems(document: DocumentReference): string[] {
  const reference = document.subject?.reference ?? "";
  const patient = document.contained?.find((resource) => resource.resourceType === "Patient" && `#${resource.id}` === reference) as Patient | undefined;
  if (!patient) return ["DocumentReference.subject: must reference the contained Patient that carries the NHS number verification status"];
  const identifier = patient.identifier?.find((candidate) => candidate.system === NHS_NUMBER_SYSTEM);
  const path = "DocumentReference.contained(Patient).identifier";
  const problems = nhsNumberProblems(identifier, path);
  if (identifier?.value !== document.subject?.identifier?.value) problems.push(`${path}: must be the subject's NHS number`);
  const statuses = (identifier?.extension ?? []).filter((extension) => extension.url === NHS_NUMBER_VERIFICATION_STATUS);
  if (statuses.length !== 1) return [...problems, `${path}: needs one NHS number verification status extension`];
  const coding = statuses[0]?.valueCodeableConcept?.coding?.[0];
  if (coding?.system !== NHS_NUMBER_VERIFICATION_STATUS_SYSTEM || !VERIFICATION_STATUS_CODES.has(coding.code ?? ""))
    problems.push(`${path}: the NHS number verification status must be a code 01-08 of ${NHS_NUMBER_VERIFICATION_STATUS_SYSTEM}`);
  return problems;
}

function documentProblems(document: DocumentReference): string[] {
  const problems = [...nhsNumberProblems(document.subject?.identifier, "DocumentReference.subject"), ...verificationProblems(document)];
  if (!document.meta?.profile?.includes(UK_CORE_DOCUMENT_REFERENCE)) problems.push("DocumentReference.meta.profile: must claim UKCore-DocumentReference");
  if (document.status !== "current") problems.push("DocumentReference.status: must be current");
  if (!document.identifier?.[0]?.system || !document.identifier[0].value) problems.push("DocumentReference.identifier: needs the export id");
  const types = document.type?.coding ?? [];
  if (!types.some((coding) => coding.system === SNOMED_SYSTEM))
    problems.push("DocumentReference.type: UK Core binds type to SNOMED CT; include a SNOMED coding");
  for (const [index, coding] of types.entries()) problems.push(...codingProblems(coding, `DocumentReference.type.coding[${index}]`));
  for (const [i, category] of (document.category ?? []).entries()) {
    for (const [j, coding] of (category.coding ?? []).entries()) problems.push(...codingProblems(coding, `DocumentReference.category[${i}].coding[${j}]`));
  }
  const attachment = document.content[0]?.attachment;
  if (attachment?.contentType !== "application/pdf") problems.push("DocumentReference.content[0].attachment.contentType: must be application/pdf");
  if (!attachment?.data || !attachment.hash || !attachment.size) problems.push("DocumentReference.content[0].attachment: needs data, size and hash");
  if (!document.context?.period?.start) problems.push("DocumentReference.context.period: needs the conversation's first and last message times");
  return problems;
}

function communicationProblems(communication: Communication, index: number): string[] {
  const path = `Communication[${index}]`;
  const problems = nhsNumberProblems(communication.subject?.identifier, `${path}.subject`);
  if (communication.status !== "completed") problems.push(`${path}.status: must be completed`);
  if (!communication.sent) problems.push(`${path}.sent: missing`);
  if (!communication.sender?.identifier?.value) problems.push(`${path}.sender: missing`);
  if (!communication.payload?.length) problems.push(`${path}.payload: missing`);
  return problems;
}

/**
 * Handover's own checks on a filing bundle, beyond structure: what UK Core and a record system
 * expect, and what Medplum's validator does not look at (codes, NHS numbers, idempotency keys).
 */
export function ukCoreProblems(bundle: Bundle): string[] {
  if (bundle.type !== "transaction") return ["Bundle.type: must be transaction"];
  const problems: string[] = [];
  let communications = 0;
  for (const entry of bundle.entry ?? []) {
    const resource = entry.resource;
    if (!entry.request?.ifNoneExist)
      problems.push(`${resource?.resourceType ?? "entry"}: needs request.ifNoneExist (conditional create) so a retry never files twice`);
    if (resource?.resourceType === "DocumentReference") problems.push(...documentProblems(resource));
    else if (resource?.resourceType === "Communication") problems.push(...communicationProblems(resource, communications++));
    else problems.push(`Bundle.entry: unexpected ${resource?.resourceType ?? "empty entry"}`);
  }
  if (bundle.entry?.[0]?.resource?.resourceType !== "DocumentReference") problems.push("Bundle.entry[0]: must be the DocumentReference");
  return problems;
}
