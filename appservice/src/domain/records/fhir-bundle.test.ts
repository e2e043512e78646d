import type { Communication, DocumentReference, Patient } from "@medplum/fhirtypes";
import { describe, expect, it } from "vitest";
import { filingInput } from "../../testing/records-fixtures.js";
import { buildFilingBundle, NHS_NUMBER_VERIFICATION_STATUS, NHS_NUMBER_VERIFICATION_STATUS_SYSTEM, UK_CORE_PATIENT } from "./fhir-bundle.js";
import type { NhsNumber } from "./nhs-number.js";
import { ukCoreProblems } from "./uk-core-checks.js";

function bundleFor(verified: boolean) {
  return buildFilingBundle(
    filingInput({
      patient: { nhsNumber: "9434765919" as NhsNumber, name: verified ? "SMITH, Jane" : null, birthDate: verified ? "1980-01-02" : null, verified },
    }),
  );
}

const documentOf = (verified: boolean) => bundleFor(verified).entry?.[0]?.resource as DocumentReference;
const verificationOf = (verified: boolean) => (documentOf(verified).contained as Patient[])[0]?.identifier?.[0]?.extension?.[0]?.valueCodeableConcept?.coding;
const NHS = { system: "https://fhir.nhs.uk/Id/nhs-number", value: "9434765919" };

describe("the patient reference in a filing bundle", () => {
  it("carries 01 'Number present and verified' on the contained UKCore-Patient's NHS number when the record had the patient", () => {
    const document = documentOf(true);
    expect(document.subject).toEqual({ reference: "#patient", identifier: NHS });
    expect(document.contained).toEqual([
      {
        resourceType: "Patient",
        id: "patient",
        meta: { profile: [UK_CORE_PATIENT] },
        identifier: [
          {
            extension: [
              {
                url: NHS_NUMBER_VERIFICATION_STATUS,
                valueCodeableConcept: { coding: [{ system: NHS_NUMBER_VERIFICATION_STATUS_SYSTEM, code: "01", display: "Number present and verified" }] },
              },
            ],
            ...NHS,
          },
        ],
      },
    ]);
  });

  it("carries 02 'Number present but not traced' when the number was only typed in; Communications name the patient by NHS number alone", () => {
    expect(verificationOf(false)).toEqual([{ system: NHS_NUMBER_VERIFICATION_STATUS_SYSTEM, code: "02", display: "Number present but not traced" }]);
    const communication = bundleFor(false).entry?.[1]?.resource as Communication;
    expect(communication.subject).toEqual({ identifier: NHS });
  });

  it("creates no Patient (the Patient is contained), and Handover's checks refuse a missing or unknown status", () => {
    const bundle = bundleFor(true);
    expect((bundle.entry ?? []).map((entry) => entry.resource?.resourceType)).toEqual(["DocumentReference", "Communication"]);
    const document = bundle.entry?.[0]?.resource as DocumentReference;
    const problemsOf = (extension: unknown[]) => {
      ((document.contained as Patient[])[0]?.identifier?.[0] as { extension: unknown[] }).extension = extension;
      return ukCoreProblems(bundle).filter((problem) => problem.startsWith("DocumentReference.contained"));
    };
    expect(problemsOf([])).toEqual(["DocumentReference.contained(Patient).identifier: needs one NHS number verification status extension"]);
    expect(
      problemsOf([{ url: NHS_NUMBER_VERIFICATION_STATUS, valueCodeableConcept: { coding: [{ system: NHS_NUMBER_VERIFICATION_STATUS_SYSTEM, code: "99" }] } }]),
    ).toHaveLength(1);
  });
});
