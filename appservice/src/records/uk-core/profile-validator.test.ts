import type { Bundle, Communication, DocumentReference, Patient, StructureDefinition } from "@medplum/fhirtypes";
import { describe, expect, it } from "vitest";
import { buildFilingBundle, NHS_NUMBER_VERIFICATION_STATUS, withPdf } from "../../domain/records/fhir-bundle.js";
import type { NhsNumber } from "../../domain/records/nhs-number.js";
import type { TranscriptMessage } from "../../domain/records/transcript.js";
import { filingInput } from "../../testing/records-fixtures.js";
import { ProfileDefinitions } from "./definitions.js";
import { UkCoreProfileValidator } from "./profile-validator.js";

/** A profile with a required slice (none of the vendored UK Core ones has one): category must hold a SNOMED "Record artefact". */
const REQUIRES_RECORD_ARTEFACT: StructureDefinition = {
  resourceType: "StructureDefinition",
  url: "https://handover.test/StructureDefinition/RequiresRecordArtefact",
  name: "RequiresRecordArtefact",
  status: "draft",
  kind: "resource",
  abstract: false,
  type: "DocumentReference",
  baseDefinition: "https://fhir.hl7.org.uk/StructureDefinition/UKCore-DocumentReference",
  derivation: "constraint",
  differential: {
    element: [
      {
        id: "DocumentReference.category",
        path: "DocumentReference.category",
        slicing: { discriminator: [{ type: "pattern", path: "$this" }], rules: "open" },
      },
      {
        id: "DocumentReference.category:recordArtefact",
        path: "DocumentReference.category",
        sliceName: "recordArtefact",
        min: 1,
        max: "1",
        patternCodeableConcept: { coding: [{ system: "http://snomed.info/sct", code: "419891008" }] },
      },
    ],
  },
};

const validator = new UkCoreProfileValidator(ProfileDefinitions.load([REQUIRES_RECORD_ARTEFACT]));

function filed(verified = false): Bundle {
  const input = filingInput({ patient: { nhsNumber: "9434765919" as NhsNumber, name: null, birthDate: null, verified } });
  return withPdf(buildFilingBundle(input), { data: new TextEncoder().encode("%PDF-1.7 test") });
}

const documentOf = (bundle: Bundle) => bundle.entry?.[0]?.resource as DocumentReference;
const communicationOf = (bundle: Bundle) => bundle.entry?.[1]?.resource as Communication;
const patientOf = (bundle: Bundle) => documentOf(bundle).contained?.[0] as Patient;

describe("the filing bundle against UK Core's own StructureDefinitions", () => {
  it("the real builder's bundle validates, verified or not", () => {
    expect(validator.validate(filed(false))).toEqual([]);
    expect(validator.validate(filed(true))).toEqual([]);
  });

  it("a conversation with images, replies and edits, a custodian and a thread validates too", () => {
    const messages: TranscriptMessage[] = Array.from({ length: 30 }, (_, index) => ({
      eventId: `$e${index}`,
      sender: `@user${index % 3}:trust-a.test`,
      senderName: `User ${index % 3}`,
      sentAt: new Date(Date.UTC(2025, 0, 6, 8, index)),
      text: `Obs stable (${index})`,
      kind: index % 10 === 9 ? "image" : "text",
      replyTo: index % 7 === 3 ? { eventId: `$e${index - 1}`, senderName: "User", excerpt: "Obs" } : null,
      editedAt: index % 5 === 4 ? new Date(Date.UTC(2025, 0, 6, 9, index)) : null,
      threadRootId: index > 20 ? "$e20" : null,
      image:
        index % 10 === 9
          ? { mxcUrl: `mxc://trust-a.test/i${index}`, mimetype: "image/png", name: `wound-${index}.png`, bytes: new Uint8Array([137, 80, 78, 71]) }
          : null,
    }));
    const input = filingInput({ messages, custodianOdsCode: "RXX" });
    expect(validator.validate(withPdf(buildFilingBundle(input), { data: new Uint8Array(300_000).fill(65) }))).toEqual([]);
  });

  it("refuses the verification status extension outside its context (Patient.identifier), naming the path", () => {
    const bundle = filed();
    const extension = patientOf(bundle).identifier?.[0]?.extension?.[0];
    (communicationOf(bundle).subject?.identifier as { extension?: unknown[] }).extension = [extension];
    expect(validator.validate(bundle)).toEqual([
      `Bundle.entry[1].resource.subject.identifier.extension[0]: extension ${NHS_NUMBER_VERIFICATION_STATUS} is not allowed on Communication.subject.identifier; its context is Patient.identifier (element Identifier.extension)`,
    ]);
  });

  it("refuses a missing required slice, and a slice over its maximum (UKCore-Patient allows one NHS number)", () => {
    const missing = filed();
    documentOf(missing).meta = { profile: [REQUIRES_RECORD_ARTEFACT.url as string] };
    documentOf(missing).category = [{ coding: [{ system: "http://snomed.info/sct", code: "371531000" }] }];
    expect(validator.validate(missing)).toEqual([
      "Bundle.entry[0].resource.category:recordArtefact: 1 required, 0 present (element DocumentReference.category:recordArtefact)",
    ]);
    const twoNumbers = filed();
    const patient = patientOf(twoNumbers);
    patient.identifier = [...(patient.identifier ?? []), { system: "https://fhir.nhs.uk/Id/nhs-number", value: "9000000009" }];
    expect(validator.validate(twoNumbers)).toEqual([
      "Bundle.entry[0].resource.contained[0].identifier:nhsNumber: at most 1 allowed, 2 present (element Patient.identifier:nhsNumber)",
    ]);
  });

  it("refuses an NHS number identifier without its value (required in UKCore-Patient's nhsNumber slice)", () => {
    const bundle = filed();
    delete patientOf(bundle).identifier?.[0]?.value;
    expect(validator.validate(bundle)).toContain(
      "Bundle.entry[0].resource.contained[0].identifier[0].value: 1 required, 0 present (element Patient.identifier:nhsNumber.value)",
    );
  });

  it("refuses codes outside a required binding: UK Core's verification status and R4's document status", () => {
    const bundle = filed();
    const coding = patientOf(bundle).identifier?.[0]?.extension?.[0]?.valueCodeableConcept?.coding?.[0] as { code: string };
    coding.code = "99";
    (documentOf(bundle) as { status: string }).status = "filed";
    expect(validator.validate(bundle)).toEqual([
      "Bundle.entry[0].resource.contained[0].identifier[0].extension[0].valueCodeableConcept: https://fhir.hl7.org.uk/CodeSystem/UKCore-NHSNumberVerificationStatusEngland|99 is not in the required value set https://fhir.hl7.org.uk/ValueSet/UKCore-NHSNumberVerificationStatus (element Extension.value[x])",
      "Bundle.entry[0].resource.status: filed is not in the required value set http://hl7.org/fhir/ValueSet/document-reference-status (element DocumentReference.status)",
    ]);
  });

  it("refuses a broken FHIRPath invariant: a conversation period that ends before it starts (per-1)", () => {
    const bundle = filed();
    const document = documentOf(bundle);
    document.context = { period: { start: "2026-01-02T00:00:00.000Z", end: "2026-01-01T00:00:00.000Z" } };
    expect(validator.validate(bundle)).toEqual([
      expect.stringMatching(/^Bundle\.entry\[0\]\.resource\.context\.period: invariant per-1 failed: .* \(element DocumentReference\.context\.period\)$/),
    ]);
  });

  it("refuses a local reference to a contained resource that is not there (ref-1) and an empty element (ele-1)", () => {
    const bundle = filed();
    delete documentOf(bundle).contained;
    (communicationOf(bundle) as unknown as Record<string, unknown>).sender = { id: "x" };
    expect(validator.validate(bundle)).toEqual([
      "Bundle.entry[0].resource.subject: invariant ref-1 failed: SHALL have a contained resource if a local reference is provided (element DocumentReference.subject)",
      "Bundle.entry[1].resource.sender: invariant ele-1 failed: All FHIR elements must have a @value or children (element Communication.sender)",
    ]);
  });

  it("refuses bad cardinality, unknown elements and wrong primitive types, naming each path", () => {
    const bundle = filed();
    const document = documentOf(bundle) as unknown as Record<string, unknown>;
    document.content = [];
    document.subject = [document.subject];
    document.colour = "blue";
    (communicationOf(bundle) as unknown as Record<string, unknown>).sent = 12;
    expect(validator.validate(bundle)).toEqual(
      expect.arrayContaining([
        "Bundle.entry[0].resource.subject: must not be an array (element DocumentReference.subject)",
        "Bundle.entry[0].resource.content: 1 required, 0 present (element DocumentReference.content)",
        "Bundle.entry[0].resource.colour: is not an element of DocumentReference",
        "Bundle.entry[1].resource.sent: must be a JSON string (dateTime) (element Communication.sent)",
      ]),
    );
  });

  it("refuses a profile it does not hold and a resource claiming another type's profile", () => {
    const bundle = filed();
    communicationOf(bundle).meta = { profile: ["https://fhir.hl7.org.uk/StructureDefinition/UKCore-DocumentReference", "https://example.test/Unknown"] };
    expect(validator.validate(bundle)).toEqual([
      "Bundle.entry[1].resource.meta.profile: https://fhir.hl7.org.uk/StructureDefinition/UKCore-DocumentReference is a profile of DocumentReference, not Communication",
      "Bundle.entry[1].resource.meta.profile: claims https://example.test/Unknown, which Handover does not hold",
    ]);
  });
});
