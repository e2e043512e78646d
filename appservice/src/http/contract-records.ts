/**
 * EHR filing's part of the admin API contract: patient links, filings with their receipts,
 * retry and download of the filed PDF. Imports nothing but zod, the shared contract and the
 * domain's vocabulary files, which import nothing.
 */
import { z } from "zod";
import { FILING_STATUSES } from "../domain/records/filing-status.js";
import { type RouteContract, roomIdParamsSchema } from "./contract-shared.js";

export const filingStatusSchema = z.enum(FILING_STATUSES);

const nhsNumberDigits = z.string().regex(/^\d{10}$/);
const threadRootId = z.string().regex(/^\$\S+$/, { message: "expected a Matrix event ID like $abc" });

export const patientSchema = z.object({
  nhsNumber: nhsNumberDigits.describe("Ten digits, modulus 11 checked."),
  name: z.string().nullable(),
  birthDate: z.string().nullable(),
  verified: z.boolean().describe("Whether the NHS number was verified against the trust's record (a Patient found by it)."),
});
export type PatientSummary = z.infer<typeof patientSchema>;

export const filingReceiptSchema = z.object({
  destination: z.enum(["fhir", "file-drop"]),
  documentReference: z.string(),
  versionId: z.string().nullable(),
  entries: z.array(z.object({ location: z.string(), status: z.string() })),
  acceptedAt: z.string(),
});
export type FilingReceiptSummary = z.infer<typeof filingReceiptSchema>;

export const filingSchema = z.object({
  exportId: z.string(),
  roomId: z.string(),
  roomName: z.string().nullable(),
  threadRootId: z.string().nullable(),
  patient: patientSchema,
  status: filingStatusSchema,
  messageCount: z.number().int(),
  firstAt: z.iso.datetime(),
  lastAt: z.iso.datetime(),
  requestedBy: z.string(),
  requestedAt: z.iso.datetime(),
  confirmedBy: z.string().nullable(),
  attempts: z.number().int(),
  nextAttemptAt: z.iso.datetime().nullable(),
  lastError: z.string().nullable(),
  filedAt: z.iso.datetime().nullable(),
  receipt: filingReceiptSchema.nullable(),
});
export type FilingSummary = z.infer<typeof filingSchema>;

export const filingListSchema = z.object({ filings: z.array(filingSchema) });
export type FilingList = z.infer<typeof filingListSchema>;

export const requestFilingSchema = z.strictObject({
  roomId: roomIdParamsSchema.shape.roomId,
  threadRootId: threadRootId.optional().describe("File one thread instead of the room."),
});
export type RequestFiling = z.infer<typeof requestFilingSchema>;

export const exportIdParamsSchema = z.strictObject({ exportId: z.string().regex(/^[A-Za-z0-9-]{1,64}$/, { message: "expected an export id" }) });

export const filedPdfSchema = z.object({
  filename: z.string(),
  contentType: z.literal("application/pdf"),
  data: z.string().describe("The PDF, base64."),
});
export type FiledPdf = z.infer<typeof filedPdfSchema>;

export const patientLinkSchema = z.object({
  roomId: z.string(),
  roomName: z.string().nullable(),
  threadRootId: z.string().nullable(),
  patient: patientSchema,
  linkedBy: z.string(),
  linkedAt: z.iso.datetime(),
});
export type PatientLinkSummary = z.infer<typeof patientLinkSchema>;

export const patientLinkListSchema = z.object({ links: z.array(patientLinkSchema) });
export type PatientLinkList = z.infer<typeof patientLinkListSchema>;

export const linkPatientSchema = z.strictObject({
  nhsNumber: z.string().min(1).max(20).describe("The patient's NHS number; spaces or dashes allowed (943 476 5919)."),
  threadRootId: threadRootId.optional().describe("Link one thread instead of the room."),
});
export type LinkPatient = z.infer<typeof linkPatientSchema>;

export const PATIENT_LOOKUPS = ["found", "not-found", "unavailable", "not-searched"] as const;
export const linkPatientResultSchema = z.object({ link: patientLinkSchema, lookup: z.enum(PATIENT_LOOKUPS) });
export type LinkPatientResult = z.infer<typeof linkPatientResultSchema>;

export const PATIENT_LOOKUP_RESULTS = [...PATIENT_LOOKUPS, "refused-not-local", "refused-room-not-clinical", "refused-rate-limit", "pending"] as const;
export const searchPatientLookupsSchema = z.strictObject({
  nhsNumber: z.string().min(1).max(20).describe("The NHS number asked about; it is hashed with the lookup audit key and not stored."),
});
export type SearchPatientLookups = z.infer<typeof searchPatientLookupsSchema>;
export const patientLookupListSchema = z.object({
  nhsNumberHash: z.string().describe("The keyed hash the audit trail's records.patient_lookup entries carry for this number."),
  lookups: z.array(
    z.object({
      actor: z.string(),
      roomId: z.string(),
      roomName: z.string().nullable(),
      threadRootId: z.string().nullable(),
      outcome: z.enum(PATIENT_LOOKUP_RESULTS),
      via: z.enum(["command", "portal"]),
      at: z.iso.datetime(),
    }),
  ),
});
export type PatientLookupList = z.infer<typeof patientLookupListSchema>;

const FILERS = ["admin", "ig-lead"] as const;

export const RECORDS_API = {
  listFilings: {
    method: "get",
    path: "/records/filings",
    summary: "Filings to the patient record, newest first",
    access: "session",
    response: filingListSchema,
  },
  requestFiling: {
    method: "post",
    path: "/records/filings",
    summary: "Describe what filing a room (or thread) would file; confirm it to file",
    access: FILERS,
    body: requestFilingSchema,
    response: filingSchema,
    status: 201,
  },
  confirmFiling: {
    method: "post",
    path: "/records/filings/:exportId/confirmation",
    summary: "Confirm a described filing and send it to the record",
    access: FILERS,
    params: exportIdParamsSchema,
    response: filingSchema,
  },
  retryFiling: {
    method: "post",
    path: "/records/filings/:exportId/retry",
    summary: "Try a failed filing again now",
    access: FILERS,
    params: exportIdParamsSchema,
    response: filingSchema,
  },
  downloadFiledPdf: {
    method: "get",
    path: "/records/filings/:exportId/pdf",
    summary: "The filed PDF transcript (audited)",
    access: FILERS,
    params: exportIdParamsSchema,
    response: filedPdfSchema,
  },
  listPatientLinks: {
    method: "get",
    path: "/records/patient-links",
    summary: "Rooms and threads linked to patients",
    access: "session",
    response: patientLinkListSchema,
  },
  linkPatient: {
    method: "put",
    path: "/records/rooms/:roomId/patient",
    summary: "Link a room (or thread) to a patient by NHS number",
    access: FILERS,
    params: roomIdParamsSchema,
    body: linkPatientSchema,
    response: linkPatientResultSchema,
  },
  searchPatientLookups: {
    method: "post",
    path: "/records/patient-lookups/search",
    summary: "Who looked up the patient with this NHS number, newest first (audited; POST keeps the number out of URLs)",
    access: ["ig-lead", "admin"],
    body: searchPatientLookupsSchema,
    response: patientLookupListSchema,
  },
} as const satisfies Record<string, RouteContract>;
