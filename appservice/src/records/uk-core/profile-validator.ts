import type { Bundle, ElementDefinition, ElementDefinitionSlicingDiscriminator } from "@medplum/fhirtypes";
import type { StructuralValidator } from "../../domain/records/uk-core-checks.js";
import { ProfileDefinitions, type Structure } from "./definitions.js";
import {
  bindingProblem,
  deepEqual,
  fixedValue,
  Invariants,
  isBase64Binary,
  matchesPattern,
  patternValue,
  primitiveJsonType,
  primitiveRegex,
  primitiveValueProblem,
} from "./element-rules.js";

type Json = unknown;
type JsonObject = Record<string, Json>;

const SYSTEM_TYPE = "http://hl7.org/fhirpath/System.";
const isObject = (value: Json): value is JsonObject => value !== null && typeof value === "object" && !Array.isArray(value);

/** Where the walk is: the instance path for messages, the paths an extension's context may name. */
interface Place {
  path: string;
  /** Worked out only when an extension asks (see `contextsOf`): most places hold none. */
  contexts: string[] | null;
  /** The place this one is a property of, for its contexts: the parent's, each with `.key`, and the property's type. */
  within: { place: Place; key: string; type: string } | null;
  resource: JsonObject;
  rootResource: JsonObject;
}

/** The paths an extension's context may name for this place (`Patient.identifier`, `Identifier`). */
function contextsOf(place: Place): string[] {
  if (!place.contexts) {
    const { place: parent, key, type } = place.within as NonNullable<Place["within"]>;
    place.contexts = [...contextsOf(parent).map((context) => `${context}.${key}`), type];
  }
  return place.contexts;
}

/** A definition's children as a value's keys: a choice element `value[x]` is one key per type (`valueString`, `valueCode`). */
interface ChildLayout {
  children: { child: ElementDefinition; name: string; keys: string[]; types: string[] }[];
  /** Every key a value may hold here, `_key` (a primitive's id and extensions) included. */
  known: Set<string>;
}

const layouts = new WeakMap<ElementDefinition[], ChildLayout>();

/** Worked out once per definition, not once per value (a long conversation has thousands of each). */
function layoutOf(children: ElementDefinition[]): ChildLayout {
  let layout = layouts.get(children);
  if (layout) return layout;
  layout = { children: [], known: new Set(["resourceType", "fhir_comments"]) };
  for (const child of children) {
    const name = (child.path ?? "").slice((child.path ?? "").lastIndexOf(".") + 1);
    const choice = name.endsWith("[x]");
    const types = choice ? (child.type ?? []).map((t) => t.code ?? "") : [child.type?.[0]?.code ?? ""];
    const keys = choice ? types.map((code) => `${name.slice(0, -3)}${code.charAt(0).toUpperCase()}${code.slice(1)}`) : [name];
    if (choice && keys.length === 0) keys.push(name);
    for (const key of keys) layout.known.add(key).add(`_${key}`);
    layout.children.push({ child, name, keys, types: types.length > 0 ? types : [""] });
  }
  layouts.set(children, layout);
  return layout;
}

/**
 * Validates a bundle against the StructureDefinitions themselves: each resource against the
 * profiles it claims (UK Core, snapshots generated from the vendored differentials) or its base
 * R4 definition, walking the snapshot's elements: unknown elements, cardinality, types and
 * primitive formats, fixed and pattern values, slices by their discriminators, required
 * bindings, FHIRPath invariants, and every extension against its own definition and context.
 * Each problem names the instance path and the element definition it broke.
 */
export class UkCoreProfileValidator implements StructuralValidator {
  private readonly invariants: Invariants;

  /**
   * `definitions`: already loaded (tests); otherwise `prepare()` loads them. `nativeInvariants:
   * false` evaluates every invariant with FHIRPath (the bench's comparison; tests that both agree).
   */
  constructor(
    private definitions: ProfileDefinitions | null = null,
    options: { nativeInvariants: boolean } = { nativeInvariants: true },
  ) {
    this.invariants = new Invariants({ native: options.nativeInvariants });
  }

  /** Loads the definitions and expands the value sets, once: call at start-up, before the first filing. */
  prepare(): void {
    this.definitions ??= ProfileDefinitions.load();
  }

  private get loaded(): ProfileDefinitions {
    if (!this.definitions) throw new Error("UkCoreProfileValidator.prepare() must run before validate()");
    return this.definitions;
  }

  validate(bundle: Bundle): string[] {
    const problems: string[] = [];
    this.resource(bundle as unknown as JsonObject, "Bundle", null, problems);
    return problems;
  }

  private resource(resource: JsonObject, path: string, root: JsonObject | null, problems: string[]): void {
    const type = typeof resource.resourceType === "string" ? resource.resourceType : "";
    const claimed = ((resource.meta as { profile?: string[] } | undefined)?.profile ?? []).map((url) => [url, this.loaded.structure(url)] as const);
    for (const [url, structure] of claimed) {
      if (!structure) problems.push(`${path}.meta.profile: claims ${url}, which Handover does not hold`);
      else if (structure.type !== type) problems.push(`${path}.meta.profile: ${url} is a profile of ${structure.type}, not ${type}`);
    }
    const held = claimed.flatMap(([, structure]) => (structure?.type === type ? [structure] : []));
    const structures = held.length > 0 ? held : [this.loaded.base(type)].filter((s): s is Structure => Boolean(s));
    if (structures.length === 0) problems.push(`${path}: ${type || "a resource without resourceType"} has no definition here`);
    const place: Place = { path, contexts: [type], within: null, resource, rootResource: root ?? resource };
    for (const structure of structures) this.complex(structure, structure.byId.get(type) as ElementDefinition, type, resource, place, problems);
  }

  /** Checks a value against one element definition (its type already chosen). */
  private value(structure: Structure, element: ElementDefinition, type: string, value: Json, place: Place, problems: string[]): void {
    const at = (message: string) => problems.push(`${place.path}: ${message} (element ${element.id})`);
    const fixed = fixedValue(element);
    if (fixed !== undefined && !deepEqual(value, fixed)) at(`must be exactly ${JSON.stringify(fixed)}`);
    const pattern = patternValue(element);
    if (pattern !== undefined && !matchesPattern(value, pattern)) at(`must match ${JSON.stringify(pattern)}`);
    const binding = bindingProblem(element, value, type, this.loaded.terminology);
    if (binding) at(binding);
    if (type === "Resource" || type === "DomainResource") {
      // A contained resource's %rootResource is its container; a bundle entry's is itself.
      const contained = (element.path ?? "").endsWith(".contained");
      if (isObject(value)) this.resource(value, place.path, contained ? place.rootResource : null, problems);
      else at("must be a resource");
      return;
    }
    const base = type.startsWith(SYSTEM_TYPE) ? undefined : this.loaded.base(type);
    if (type.startsWith(SYSTEM_TYPE) || base?.definition.kind === "primitive-type") {
      this.primitive(type, base, value, at);
      for (const broken of this.invariants.broken(element, value, place)) if (!broken.includes("ele-1")) at(broken);
      return;
    }
    if (!isObject(value)) {
      at(`must be a ${type} object`);
      return;
    }
    if (type === "Extension") this.extension(element, value, place, problems);
    else this.complex(structure, element, type, value, place, problems);
  }

  private primitive(type: string, base: Structure | undefined, value: Json, at: (message: string) => void): void {
    const jsonType = primitiveJsonType(type);
    if (typeof value !== jsonType) {
      at(`must be a JSON ${jsonType} (${type})`);
      return;
    }
    const problem = primitiveValueProblem(type, value as string | number | boolean);
    if (problem) {
      at(problem);
      return;
    }
    if (typeof value !== "string") return;
    const valid = type === "base64Binary" ? isBase64Binary(value) : (primitiveRegex(base?.byId.get(`${type}.value`))?.test(value) ?? true);
    if (!valid) at(`${JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value)} is not a valid ${type}`);
  }

  /** An extension is checked against its own definition, found by its url, and where it may be used. */
  private extension(element: ElementDefinition, value: JsonObject, place: Place, problems: string[]): void {
    const url = typeof value.url === "string" ? value.url : "";
    const definition = this.loaded.structure(url);
    if (definition?.type !== "Extension") {
      problems.push(`${place.path}: extension ${url || "without a url"} is not defined here, so it cannot be checked (element ${element.id})`);
      return;
    }
    const contexts = definition.definition.context ?? [];
    const allowed = contexts.some(
      (context) => context.type === "element" && (context.expression === "Element" || contextsOf(place).includes(context.expression ?? "")),
    );
    if (!allowed) {
      const where = contexts.map((context) => context.expression).join(", ");
      problems.push(`${place.path}: extension ${url} is not allowed on ${contextsOf(place)[0]}; its context is ${where} (element ${element.id})`);
    }
    this.complex(
      definition,
      definition.byId.get("Extension") as ElementDefinition,
      "Extension",
      value,
      { ...place, contexts: ["Extension"], within: null },
      problems,
    );
  }

  /** The element's children: its own in the snapshot, else its data type's (or what contentReference names). */
  private childrenOf(structure: Structure, element: ElementDefinition, type: string): { structure: Structure; parentId: string } {
    if (element.contentReference) return { structure, parentId: element.contentReference.replace(/^.*#/, "") };
    const id = element.id ?? element.path ?? "";
    if (structure.children.has(id)) return { structure, parentId: id };
    const typeStructure = this.loaded.base(type);
    return typeStructure ? { structure: typeStructure, parentId: type } : { structure, parentId: id };
  }

  private complex(structure: Structure, element: ElementDefinition, type: string, value: JsonObject, place: Place, problems: string[]): void {
    const at = (message: string) => problems.push(`${place.path}: ${message} (element ${element.id})`);
    for (const broken of this.invariants.broken(element, value, place)) at(broken);
    const scope = this.childrenOf(structure, element, type);
    if (scope.structure !== structure) {
      // Invariants of the data type itself (ref-1 on Reference, ext-1 on Extension) sit on its root.
      for (const broken of this.invariants.broken(scope.structure.byId.get(type) as ElementDefinition, value, place, element)) at(broken);
    }
    const layout = layoutOf(scope.structure.children.get(scope.parentId) ?? []);
    for (const { child, name, keys, types } of layout.children) {
      let key = keys[0] as string;
      let childType = types[0] as string;
      if (keys.length > 1) {
        const present = keys.filter((candidate) => value[candidate] !== undefined || value[`_${candidate}`] !== undefined);
        if (present.length > 1) at(`${name} has more than one type (${present.join(", ")})`);
        const chosen = present[0] === undefined ? 0 : keys.indexOf(present[0]);
        key = keys[chosen] as string;
        childType = types[chosen] as string;
      }
      this.property(scope.structure, child, childType, key, value, place, problems);
    }
    for (const key of Object.keys(value)) if (!layout.known.has(key)) problems.push(`${place.path}.${key}: is not an element of ${element.id}`);
  }

  /** One property of a complex value: cardinality, slices, then each item. */
  private property(structure: Structure, child: ElementDefinition, type: string, key: string, owner: JsonObject, place: Place, problems: string[]): void {
    const raw = owner[key];
    // Most elements of a definition are absent from a value: nothing to check unless one is required.
    if (raw === undefined && owner[`_${key}`] === undefined && !child.min && !structure.slices.has(child.id ?? "")) return;
    const repeats = child.max === "*" || Number(child.max) > 1 || child.base?.max === "*";
    const childPath = `${place.path}.${key}`;
    if (raw !== undefined && repeats !== Array.isArray(raw))
      problems.push(`${childPath}: must ${repeats ? "be an array" : "not be an array"} (element ${child.id})`);
    const items = raw === undefined ? [] : Array.isArray(raw) ? raw : [raw];
    // FHIR JSON never holds an empty array: an element with no values is left out.
    if (Array.isArray(raw) && raw.length === 0) problems.push(`${childPath}: must not be an empty array (element ${child.id})`);
    const max = child.max === "*" ? Number.POSITIVE_INFINITY : Number(child.max ?? "*");
    if (items.length < (child.min ?? 0)) problems.push(`${childPath}: ${child.min} required, ${items.length} present (element ${child.id})`);
    if (items.length > max) problems.push(`${childPath}: at most ${child.max} allowed, ${items.length} present (element ${child.id})`);
    const slices = structure.slices.get(child.id ?? "") ?? [];
    const sliceOf = this.sliceItems(structure, child, slices, items, childPath, problems);
    items.forEach((item, index) => {
      const itemPlace: Place = {
        ...place,
        path: repeats ? `${childPath}[${index}]` : childPath,
        // An extension's context is the element that holds it, not the extension element itself.
        ...(type === "Extension" ? {} : { contexts: null, within: { place, key, type } }),
      };
      const slice = sliceOf[index];
      this.value(structure, slice ?? child, type, item, itemPlace, problems);
    });
    const primitiveExtras = owner[`_${key}`];
    if (isObject(primitiveExtras) && Array.isArray(primitiveExtras.extension)) {
      primitiveExtras.extension.forEach((extension, index) => {
        const extPlace: Place = { ...place, path: `${place.path}._${key}.extension[${index}]`, contexts: null, within: { place, key, type } };
        if (isObject(extension)) this.extension(child, extension, extPlace, problems);
      });
    }
  }

  /** Assigns each item to the slice its discriminators select; checks slice cardinality and closed slicing. */
  private sliceItems(
    structure: Structure,
    sliced: ElementDefinition,
    slices: ElementDefinition[],
    items: Json[],
    path: string,
    problems: string[],
  ): (ElementDefinition | undefined)[] {
    if (slices.length === 0 || !sliced.slicing) return [];
    const discriminators = sliced.slicing.discriminator ?? [];
    const assigned = items.map((item) => slices.find((slice) => discriminators.every((d) => this.selects(structure, slice, d, item))));
    for (const slice of slices) {
      const count = assigned.filter((s) => s === slice).length;
      const max = slice.max === "*" ? Number.POSITIVE_INFINITY : Number(slice.max ?? "*");
      if (count < (slice.min ?? 0)) problems.push(`${path}:${slice.sliceName}: ${slice.min} required, ${count} present (element ${slice.id})`);
      if (count > max) problems.push(`${path}:${slice.sliceName}: at most ${slice.max} allowed, ${count} present (element ${slice.id})`);
    }
    if (sliced.slicing.rules === "closed") {
      assigned.forEach((slice, index) => {
        if (!slice) problems.push(`${path}[${index}]: matches none of the slices of a closed slicing (element ${sliced.id})`);
      });
    }
    return assigned;
  }

  private selects(structure: Structure, slice: ElementDefinition, discriminator: ElementDefinitionSlicingDiscriminator, item: Json): boolean {
    if (discriminator.type !== "value" && discriminator.type !== "pattern") return false;
    const path = discriminator.path ?? "$this";
    if (path === "url" && isObject(item) && slice.type?.[0]?.code === "Extension" && slice.type[0].profile?.[0]) return item.url === slice.type[0].profile[0];
    const target = path === "$this" ? slice : structure.byId.get(`${slice.id}.${path}`);
    const expected = target ? (fixedValue(target) ?? patternValue(target)) : undefined;
    if (expected === undefined) return false;
    const actual = path === "$this" ? item : path.split(".").reduce<Json>((value, name) => (isObject(value) ? value[name] : undefined), item);
    return discriminator.type === "value" ? deepEqual(actual, expected) : matchesPattern(actual, expected);
  }
}
