import type { Bundle, DocumentReference } from "@medplum/fhirtypes";
import { describe, expect, it } from "vitest";
import { filingInput } from "../../testing/records-fixtures.js";
import { buildFilingBundle, withPdf } from "./fhir-bundle.js";
import type { NhsNumber } from "./nhs-number.js";
import { isLoincCode, isSnomedConceptId, ukCoreProblems } from "./uk-core-checks.js";

function bundle(overrides: { nhsNumber?: string; typeCode?: string } = {}): Bundle {
  const input = filingInput();
  return withPdf(
    buildFilingBundle({
      ...input,
      patient: { ...input.patient, nhsNumber: (overrides.nhsNumber ?? input.patient.nhsNumber) as NhsNumber },
      codes: overrides.typeCode ? { ...input.codes, type: [{ system: "http://snomed.info/sct", code: overrides.typeCode }] } : input.codes,
    }),
    { data: new Uint8Array([37, 80, 68, 70]) },
  );
}

describe("UK Core checks", () => {
  it("accepts the default codes and a filing bundle with conditional creates", () => {
    expect(ukCoreProblems(bundle())).toEqual([]);
    const document = bundle().entry?.[0];
    expect(document?.request).toEqual({ method: "POST", url: "DocumentReference", ifNoneExist: "identifier=https://trust-a.test/Id/handover-export|exp-1" });
    expect((document?.resource as DocumentReference | undefined)?.content[0]?.attachment).toMatchObject({ size: 4, hash: "ObbXPv82STugZ05IJVqdgXJLRSE=" });
  });

  it("flags a SNOMED code with a bad check digit and an NHS number failing modulus 11", () => {
    expect(ukCoreProblems(bundle({ typeCode: "371531001" }))).toEqual([expect.stringContaining("not a SNOMED CT concept id")]);
    expect(ukCoreProblems(bundle({ nhsNumber: "9876544321" })).every((p) => p.includes("modulus 11"))).toBe(true);
  });

  it("checks SNOMED (Verhoeff) and LOINC (mod 10) check digits", () => {
    for (const code of ["371531000", "419891008", "1127551000000109"]) expect(isSnomedConceptId(code)).toBe(true);
    expect(isSnomedConceptId("371531009")).toBe(false);
    expect(isLoincCode("34109-9")).toBe(true);
    expect(isLoincCode("34109-8")).toBe(false);
  });
});
