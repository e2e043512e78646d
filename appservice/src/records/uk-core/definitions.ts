import { readdirSync, readFileSync } from "node:fs";
import type { Bundle, CodeSystem, ElementDefinition, StructureDefinition, ValueSet } from "@medplum/fhirtypes";
import { cutOutByUrl, r4DefinitionBytes, r4DefinitionText, resourceDefinitions } from "../r4-definition-files.js";
import { generateSnapshot } from "./profile-snapshot.js";
import { OfflineTerminology } from "./terminology.js";

export const FHIR_BASE = "http://hl7.org/fhir/StructureDefinition/";

/** Resource types a filing bundle holds (a contained Patient included). */
const FILED_TYPES = ["Bundle", "DocumentReference", "Communication", "Patient"];

/** A definition ready to validate against: its snapshot, indexed by element id. */
export interface Structure {
  url: string;
  /** The type it constrains (`DocumentReference`, `Extension`, `Identifier`). */
  type: string;
  definition: StructureDefinition;
  elements: ElementDefinition[];
  byId: Map<string, ElementDefinition>;
  /** Direct children of an element id, slices left out. */
  children: Map<string, ElementDefinition[]>;
  /** Slices of an element id. */
  slices: Map<string, ElementDefinition[]>;
}

function index(definition: StructureDefinition, elements: ElementDefinition[]): Structure {
  const byId = new Map<string, ElementDefinition>();
  const children = new Map<string, ElementDefinition[]>();
  const slices = new Map<string, ElementDefinition[]>();
  for (const element of elements) {
    const id = element.id ?? element.path ?? "";
    byId.set(id, element);
    const dot = id.lastIndexOf(".");
    const colon = id.lastIndexOf(":");
    const into = colon > dot ? slices : dot === -1 ? null : children;
    const parent = colon > dot ? id.slice(0, colon) : id.slice(0, dot);
    if (into) into.set(parent, [...(into.get(parent) ?? []), element]);
  }
  return { url: definition.url ?? "", type: definition.type ?? "", definition, elements, byId, children, slices };
}

function vendored(): (StructureDefinition | ValueSet | CodeSystem)[] {
  const directory = new URL("./definitions/", import.meta.url);
  return readdirSync(directory)
    .filter((name) => name.endsWith(".json"))
    .map((name) => JSON.parse(readFileSync(new URL(name, directory), "utf8")) as StructureDefinition | ValueSet | CodeSystem);
}

/**
 * The definitions a filing is validated against: the vendored UK Core profiles and extension
 * (snapshots generated here from their differentials), the base R4 resources and data types, and
 * the value sets of every required binding among them, expanded once.
 */
export class ProfileDefinitions {
  readonly terminology: OfflineTerminology;
  private readonly structures = new Map<string, Structure>();

  private constructor(terminology: OfflineTerminology) {
    this.terminology = terminology;
  }

  /** `extraProfiles`: more profiles (differentials) to hold beside UK Core's, for tests. */
  static load(extraProfiles: StructureDefinition[] = []): ProfileDefinitions {
    const baseTypes = (JSON.parse(r4DefinitionText("profiles-types.json")) as Bundle<StructureDefinition>).entry ?? [];
    const bases = [...baseTypes.flatMap((entry) => (entry.resource ? [entry.resource] : [])), ...resourceDefinitions(FILED_TYPES)];
    const local = [...vendored(), ...extraProfiles];
    const terminologyHeld = new Map<string, ValueSet | CodeSystem>();
    for (const resource of local) if (resource.resourceType !== "StructureDefinition" && resource.url) terminologyHeld.set(resource.url, resource);
    const texts = [r4DefinitionBytes("valuesets.json"), r4DefinitionBytes("v3-codesystems.json")];
    const definitions = new ProfileDefinitions(
      new OfflineTerminology((url) => {
        if (!terminologyHeld.has(url)) {
          const found = texts.map((text) => cutOutByUrl<ValueSet | CodeSystem>(text, url)).find(Boolean);
          if (found) terminologyHeld.set(url, found);
        }
        return terminologyHeld.get(url);
      }),
    );
    for (const base of bases) definitions.add(base, base.snapshot?.element ?? []);
    const baseSnapshot = (typeName: string) => definitions.structures.get(FHIR_BASE + typeName)?.elements;
    for (const profile of local) {
      if (profile.resourceType !== "StructureDefinition") continue;
      const base = definitions.structures.get(profile.baseDefinition ?? "");
      if (!base) throw new Error(`the base of ${profile.url} (${profile.baseDefinition}) is not held`);
      definitions.add(profile, generateSnapshot(profile, base.elements, baseSnapshot));
    }
    // Expanded now, while the terminology files are read; afterwards only the expansions stay.
    for (const structure of definitions.structures.values()) {
      for (const element of structure.elements) {
        if (element.binding?.strength === "required" && element.binding.valueSet) definitions.terminology.expand(element.binding.valueSet);
      }
    }
    texts.length = 0;
    return definitions;
  }

  private add(definition: StructureDefinition, elements: ElementDefinition[]): void {
    if (definition.url) this.structures.set(definition.url, index(definition, elements));
  }

  structure(url: string): Structure | undefined {
    return this.structures.get(url.split("|")[0] as string);
  }

  base(typeName: string): Structure | undefined {
    return this.structures.get(FHIR_BASE + typeName);
  }
}
