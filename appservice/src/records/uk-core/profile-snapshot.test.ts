import { describe, expect, it } from "vitest";
import { ProfileDefinitions } from "./definitions.js";

const definitions = ProfileDefinitions.load();
const UK_CORE = "https://fhir.hl7.org.uk/StructureDefinition/";

describe("snapshots generated from UK Core's differentials over R4", () => {
  it("UKCore-Patient: the nhsNumber slice, its fixed system, its required value and its verification status extension", () => {
    const patient = definitions.structure(`${UK_CORE}UKCore-Patient`);
    expect(patient?.byId.get("Patient.identifier")?.slicing).toEqual({ discriminator: [{ type: "value", path: "system" }], ordered: false, rules: "open" });
    expect(patient?.byId.get("Patient.identifier:nhsNumber")).toMatchObject({ path: "Patient.identifier", sliceName: "nhsNumber", min: 0, max: "1" });
    expect(patient?.byId.get("Patient.identifier:nhsNumber.system")).toMatchObject({ min: 1, fixedUri: "https://fhir.nhs.uk/Id/nhs-number" });
    expect(patient?.byId.get("Patient.identifier:nhsNumber.value")).toMatchObject({ min: 1, max: "1" });
    // Unfolded from Identifier: the children a profile did not touch are there too.
    expect(patient?.children.get("Patient.identifier:nhsNumber")?.map((element) => element.id)).toEqual(
      ["id", "extension", "use", "type", "system", "value", "period", "assigner"].map((name) => `Patient.identifier:nhsNumber.${name}`),
    );
    expect(patient?.byId.get("Patient.identifier:nhsNumber.extension:nhsNumberVerificationStatus")?.type).toEqual([
      { code: "Extension", profile: [`${UK_CORE}Extension-UKCore-NHSNumberVerificationStatus`] },
    ]);
    // The base's invariants stay (pat-1 on Patient.contact).
    expect(patient?.byId.get("Patient.contact")?.constraint?.map((constraint) => constraint.key)).toContain("pat-1");
  });

  it("the verification status extension: a CodeableConcept required from UK Core's value set, only on Patient.identifier", () => {
    const extension = definitions.structure(`${UK_CORE}Extension-UKCore-NHSNumberVerificationStatus`);
    expect(extension?.definition.context).toEqual([{ type: "element", expression: "Patient.identifier" }]);
    expect(extension?.byId.get("Extension.value[x]")).toMatchObject({
      min: 1,
      type: [{ code: "CodeableConcept" }],
      binding: { strength: "required", valueSet: "https://fhir.hl7.org.uk/ValueSet/UKCore-NHSNumberVerificationStatus" },
    });
    expect(definitions.terminology.expand("https://fhir.hl7.org.uk/ValueSet/UKCore-NHSNumberVerificationStatus")).toContain(
      "https://fhir.hl7.org.uk/CodeSystem/UKCore-NHSNumberVerificationStatusEngland|02",
    );
  });

  it("UKCore-DocumentReference binds type (extensible) to UKCore-DocumentType and keeps R4's required status binding", () => {
    const document = definitions.structure(`${UK_CORE}UKCore-DocumentReference`);
    expect(document?.byId.get("DocumentReference.type")?.binding).toMatchObject({
      strength: "extensible",
      valueSet: "https://fhir.hl7.org.uk/ValueSet/UKCore-DocumentType",
    });
    expect(document?.byId.get("DocumentReference.status")?.binding).toMatchObject({ strength: "required" });
    expect(definitions.terminology.expand("http://hl7.org/fhir/ValueSet/document-reference-status|4.0.1")).toEqual(
      new Set(["current", "superseded", "entered-in-error"].map((code) => `http://hl7.org/fhir/document-reference-status|${code}`)),
    );
  });
});
