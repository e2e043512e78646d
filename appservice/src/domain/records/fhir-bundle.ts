import { createHash } from "node:crypto";
import type { Bundle, BundleEntry, Coding, Communication, DocumentReference, Identifier, Patient, Reference } from "@medplum/fhirtypes";
import { NHS_NUMBER_SYSTEM } from "./nhs-number.js";
import type { PatientDetails } from "./patient.js";
import { fileLine, isDrawableImage, type TranscriptMessage } from "./transcript.js";

export const UK_CORE_DOCUMENT_REFERENCE = "https://fhir.hl7.org.uk/StructureDefinition/UKCore-DocumentReference";
export const UK_CORE_COMMUNICATION = "https://fhir.hl7.org.uk/StructureDefinition/UKCore-Communication";
export const UK_CORE_PATIENT = "https://fhir.hl7.org.uk/StructureDefinition/UKCore-Patient";
export const NHS_NUMBER_VERIFICATION_STATUS = "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSNumberVerificationStatus";
export const NHS_NUMBER_VERIFICATION_STATUS_SYSTEM = "https://fhir.hl7.org.uk/CodeSystem/UKCore-NHSNumberVerificationStatusEngland";
export const PARTICIPATION_MODE_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-ParticipationMode";
/** Matrix IDs as URIs (MSC2312 `matrix:u/...`), identified as RFC 3986 URIs. */
export const URI_SYSTEM = "urn:ietf:rfc:3986";

/** Per-trust codes for the filed document (defaults in the config schema, from UK Core). */
export interface FilingCodes {
  type: Coding[];
  category: Coding[];
}

export interface FilingBundleInput {
  exportId: string;
  /** The trust's identifier system for Handover's export ids. */
  identifierSystem: string;
  patient: PatientDetails;
  messages: TranscriptMessage[];
  codes: FilingCodes;
  title: string;
  createdAt: Date;
  /** The trust, by ODS code, as custodian; null when not configured. */
  custodianOdsCode: string | null;
}

export interface PdfAttachment {
  data: Uint8Array;
}

/** A stable urn:uuid for a resource in the bundle, so the same filing always builds the same bundle. */
function urnFor(...parts: string[]): string {
  const hex = createHash("sha1").update(parts.join("\u0000")).digest("hex");
  const variant = ((Number.parseInt(hex.slice(16, 18), 16) & 0x3f) | 0x80).toString(16);
  return `urn:uuid:${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-${variant}${hex.slice(18, 20)}-${hex.slice(20, 32)}`;
}

export function matrixUri(userId: string): string {
  return `matrix:u/${userId.replace(/^@/, "")}`;
}

/** The patient as a logical reference by NHS number: many record systems refuse to create patients. */
export function patientReference(patient: PatientDetails): Reference<Patient> {
  return { identifier: { system: NHS_NUMBER_SYSTEM, value: patient.nhsNumber } };
}

/** The id of the Patient contained in the DocumentReference (referenced as `#patient`). */
export const CONTAINED_PATIENT_ID = "patient";

/**
 * The patient as UK Core states it, contained in the DocumentReference: UK Core allows the NHS
 * number verification status extension only on `Patient.identifier` (its context), not on a
 * reference's identifier, so the status travels on a contained UKCore-Patient: 01 "Number
 * present and verified" when the trust's record has a Patient with this number (found when the
 * room was linked), else 02 "Number present but not traced" (typed in and modulus-11 checked only).
 */
export function containedPatient(patient: PatientDetails): Patient {
  const status = patient.verified ? { code: "01", display: "Number present and verified" } : { code: "02", display: "Number present but not traced" };
  return {
    resourceType: "Patient",
    id: CONTAINED_PATIENT_ID,
    meta: { profile: [UK_CORE_PATIENT] },
    identifier: [
      {
        extension: [{ url: NHS_NUMBER_VERIFICATION_STATUS, valueCodeableConcept: { coding: [{ system: NHS_NUMBER_VERIFICATION_STATUS_SYSTEM, ...status }] } }],
        system: NHS_NUMBER_SYSTEM,
        value: patient.nhsNumber,
      },
    ],
  };
}

function conditional(resourceType: string, identifier: Identifier) {
  return { method: "POST" as const, url: resourceType, ifNoneExist: `identifier=${identifier.system}|${identifier.value}` };
}

function communicationFor(input: FilingBundleInput, message: TranscriptMessage, index: number, documentUrn: string, urnOf: Map<string, string>): Communication {
  const subject = patientReference(input.patient);
  const communication: Communication = {
    resourceType: "Communication",
    meta: { profile: [UK_CORE_COMMUNICATION] },
    identifier: [{ system: input.identifierSystem, value: `${input.exportId}-${index + 1}` }],
    status: "completed",
    subject,
    partOf: [{ reference: documentUrn }],
    medium: [{ coding: [{ system: PARTICIPATION_MODE_SYSTEM, code: "ONLINEWRIT", display: "online written" }] }],
    sent: message.sentAt.toISOString(),
    sender: { identifier: { system: URI_SYSTEM, value: matrixUri(message.sender) }, display: message.senderName },
    payload: [{ contentString: message.editedAt ? `${message.text} (edited ${message.editedAt.toISOString()})` : message.text }],
  };
  if (message.image) {
    const attachment = {
      contentType: message.image.mimetype,
      title: message.image.name,
      ...(message.image.bytes ? { size: message.image.bytes.byteLength, hash: sha1Base64(message.image.bytes) } : {}),
    };
    const said = message.image.bytes ? "embedded in the filed PDF" : "not captured: could not be retrieved";
    communication.payload = [{ contentString: `Image: ${message.image.name} (${said})` }, { contentAttachment: attachment }];
  }
  if (message.file) {
    const file = message.file;
    const attachment = { contentType: file.mimetype, title: file.name, ...(file.bytes ? { size: file.bytes.byteLength, hash: sha1Base64(file.bytes) } : {}) };
    communication.payload = [{ contentString: fileLine(file) }, { contentAttachment: attachment }];
  }
  if (message.reactions?.length) {
    communication.note = message.reactions.map((reaction) => ({
      authorString: `${reaction.senderName} (${matrixUri(reaction.sender)})`,
      time: reaction.sentAt.toISOString(),
      text: `Reacted ${reaction.key}`,
    }));
  }
  const repliedUrn = message.replyTo ? urnOf.get(message.replyTo.eventId) : undefined;
  if (repliedUrn) communication.inResponseTo = [{ reference: repliedUrn }];
  return communication;
}

export function sha1Base64(bytes: Uint8Array): string {
  return createHash("sha1").update(bytes).digest("base64");
}

/**
 * The FHIR R4 transaction that files a conversation: one UK Core DocumentReference (the PDF
 * transcript) and one Communication per message, every entry a conditional create on its
 * identifier, so sending the same bundle again creates nothing new. The patient is a logical
 * reference by NHS number: many record systems refuse to create patients.
 *
 * Built in two steps because the PDF carries this bundle inside it: first without the PDF's
 * bytes (that JSON is what the PDF attaches), then `withPdf` adds them.
 */
export function buildFilingBundle(input: FilingBundleInput): Bundle {
  const documentUrn = urnFor(input.exportId, "DocumentReference");
  const identifier = { system: input.identifierSystem, value: input.exportId };
  const first = input.messages[0]?.sentAt ?? input.createdAt;
  const last = input.messages[input.messages.length - 1]?.sentAt ?? input.createdAt;
  const document: DocumentReference = {
    resourceType: "DocumentReference",
    meta: { profile: [UK_CORE_DOCUMENT_REFERENCE] },
    contained: [containedPatient(input.patient)],
    identifier: [identifier],
    status: "current",
    docStatus: "final",
    type: { coding: input.codes.type },
    category: [{ coding: input.codes.category }],
    subject: { reference: `#${CONTAINED_PATIENT_ID}`, ...patientReference(input.patient) },
    date: input.createdAt.toISOString(),
    description: input.title,
    ...(input.custodianOdsCode ? { custodian: { identifier: { system: "https://fhir.nhs.uk/Id/ods-organization-code", value: input.custodianOdsCode } } } : {}),
    content: [
      { attachment: { contentType: "application/pdf", language: "en-GB", title: input.title, creation: input.createdAt.toISOString() } },
      // Each captured file is carried beside the transcript too (its bytes go in with the PDF's).
      ...embeddedFiles(input.messages).map((file) => ({
        attachment: { contentType: file.mimetype, title: file.name, size: file.bytes.byteLength, hash: sha1Base64(file.bytes) },
      })),
    ],
    context: { period: { start: first.toISOString(), end: last.toISOString() } },
  };
  const urnOf = new Map(input.messages.map((message) => [message.eventId, urnFor(input.exportId, message.eventId)]));
  const entries: BundleEntry[] = [{ fullUrl: documentUrn, resource: document, request: conditional("DocumentReference", identifier) }];
  input.messages.forEach((message, index) => {
    const communication = communicationFor(input, message, index, documentUrn, urnOf);
    entries.push({
      fullUrl: urnOf.get(message.eventId) as string,
      resource: communication,
      request: conditional("Communication", communication.identifier?.[0] as Identifier),
    });
  });
  return { resourceType: "Bundle", type: "transaction", entry: entries };
}

/** A file whose bytes the filing holds: embedded in the PDF/A-3 and carried by the DocumentReference. */
export interface EmbeddedFile {
  name: string;
  mimetype: string;
  bytes: Uint8Array;
}

/** The files of a transcript that are embedded as files, in message order: files, and images the PDF cannot draw. */
export function embeddedFiles(messages: readonly TranscriptMessage[]): EmbeddedFile[] {
  return messages.flatMap((message) => {
    if (message.file?.bytes) return [{ name: message.file.name, mimetype: message.file.mimetype, bytes: message.file.bytes }];
    const image = message.image;
    if (image?.bytes && !isDrawableImage(image.bytes, image.mimetype)) return [{ name: image.name, mimetype: image.mimetype, bytes: image.bytes }];
    return [];
  });
}

/** base64 of the bytes where they lie (`Buffer.from(uint8Array)` would copy the whole PDF first). */
function base64Of(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
}

/**
 * The same bundle with the PDF inline in the DocumentReference (data, size, SHA-1 hash), and the
 * bytes of each embedded file in the content entry `buildFilingBundle` made for it.
 */
export function withPdf(bundle: Bundle, pdf: PdfAttachment, files: readonly EmbeddedFile[] = []): Bundle {
  const [documentEntry, ...rest] = bundle.entry ?? [];
  const document = documentEntry?.resource as DocumentReference;
  const [content = { attachment: { contentType: "application/pdf" } }, ...fileContents] = document.content;
  const attachment = { ...content.attachment, data: base64Of(pdf.data), size: pdf.data.byteLength, hash: sha1Base64(pdf.data) };
  const filled = fileContents.map((entry, index) => {
    const file = files[index];
    return file ? { ...entry, attachment: { ...entry.attachment, data: base64Of(file.bytes) } } : entry;
  });
  return { ...bundle, entry: [{ ...documentEntry, resource: { ...document, content: [{ ...content, attachment }, ...filled] } }, ...rest] };
}
