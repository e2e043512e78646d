import type { FilingBundleInput } from "../domain/records/fhir-bundle.js";
import type { NhsNumber } from "../domain/records/nhs-number.js";

/** A one-message filing for a patient by NHS number: the input bundle tests vary from. */
export function filingInput(overrides: Partial<FilingBundleInput> = {}): FilingBundleInput {
  return {
    exportId: "exp-1",
    identifierSystem: "https://trust-a.test/Id/handover-export",
    patient: { nhsNumber: "9434765919" as NhsNumber, name: null, birthDate: null, verified: false },
    messages: [
      {
        eventId: "$1",
        sender: "@a:t",
        senderName: "A",
        sentAt: new Date(0),
        text: "hi",
        kind: "text",
        replyTo: null,
        editedAt: null,
        threadRootId: null,
        image: null,
      },
    ],
    codes: {
      type: [
        { system: "http://snomed.info/sct", code: "371531000", display: "Report of clinical encounter" },
        { system: "http://loinc.org", code: "34109-9", display: "Note" },
      ],
      category: [{ system: "http://snomed.info/sct", code: "419891008", display: "Record artifact" }],
    },
    title: "t",
    createdAt: new Date(0),
    custodianOdsCode: null,
    ...overrides,
  };
}
