import type { Communication, DocumentReference } from "@medplum/fhirtypes";
import { describe, expect, it } from "vitest";
import { filingInput } from "../../testing/records-fixtures.js";
import { buildFilingBundle, NHS_NUMBER_VERIFICATION_STATUS, NHS_NUMBER_VERIFICATION_STATUS_SYSTEM } from "./fhir-bundle.js";
import type { NhsNumber } from "./nhs-number.js";
import { ukCoreProblems } from "./uk-core-checks.js";

function bundleFor(verified: boolean) {
  return buildFilingBundle(
    filingInput({
      patient: { nhsNumber: "9434765919" as NhsNumber, name: verified ? "SMITH, Jane" : null, birthDate: verified ? "1980-01-02" : null, verified },
    }),
  );
}

const subjects = (verified: boolean) => (bundleFor(verified).entry ?? []).map((entry) => (entry.resource as DocumentReference | Communication).subject);

describe("the patient reference in a filing bundle", () => {
  it("carries 01 'Number present and verified' on the NHS number identifier when the record had the patient", () => {
    for (const subject of subjects(true)) {
      expect(subject).toEqual({
        identifier: {
          extension: [
            {
              url: NHS_NUMBER_VERIFICATION_STATUS,
              valueCodeableConcept: { coding: [{ system: NHS_NUMBER_VERIFICATION_STATUS_SYSTEM, code: "01", display: "Number present and verified" }] },
            },
          ],
          system: "https://fhir.nhs.uk/Id/nhs-number",
          value: "9434765919",
        },
      });
    }
  });

  it("carries 02 'Number present but not traced' when the number was only typed in, on every resource", () => {
    const all = subjects(false);
    expect(all).toHaveLength(2);
    for (const subject of all) {
      expect(subject?.identifier?.extension?.[0]?.valueCodeableConcept?.coding).toEqual([
        { system: NHS_NUMBER_VERIFICATION_STATUS_SYSTEM, code: "02", display: "Number present but not traced" },
      ]);
      expect(subject?.reference).toBeUndefined();
    }
  });

  it("is a logical reference only (no Patient entry), and UK Core checks refuse a missing or unknown status", () => {
    const bundle = bundleFor(true);
    expect((bundle.entry ?? []).map((entry) => entry.resource?.resourceType)).toEqual(["DocumentReference", "Communication"]);
    const document = bundle.entry?.[0]?.resource as DocumentReference;
    const problemsOf = (extension: unknown[]) => {
      (document.subject as { identifier: { extension: unknown[] } }).identifier.extension = extension;
      return ukCoreProblems(bundle).filter((problem) => problem.startsWith("DocumentReference.subject"));
    };
    expect(problemsOf([])).toEqual(["DocumentReference.subject.identifier: needs one NHS number verification status extension"]);
    expect(
      problemsOf([{ url: NHS_NUMBER_VERIFICATION_STATUS, valueCodeableConcept: { coding: [{ system: NHS_NUMBER_VERIFICATION_STATUS_SYSTEM, code: "99" }] } }]),
    ).toHaveLength(1);
  });
});
