import type { ElementDefinition } from "@medplum/fhirtypes";
import fhirpath from "fhirpath";
import r4Model from "fhirpath/fhir-context/r4/index.js";
import type { OfflineTerminology } from "./terminology.js";

type Json = unknown;

/** `fixed[x]`: the value must be exactly this. */
export function fixedValue(element: ElementDefinition): Json | undefined {
  const key = Object.keys(element).find((name) => name.startsWith("fixed"));
  return key ? (element as unknown as Record<string, Json>)[key] : undefined;
}

/** `pattern[x]`: the value must contain this. */
export function patternValue(element: ElementDefinition): Json | undefined {
  const key = Object.keys(element).find((name) => name.startsWith("pattern"));
  return key ? (element as unknown as Record<string, Json>)[key] : undefined;
}

export function deepEqual(a: Json, b: Json): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** FHIR pattern matching: every property the pattern states is in the value; array items each matched by some item. */
export function matchesPattern(value: Json, pattern: Json): boolean {
  if (Array.isArray(pattern)) return Array.isArray(value) && pattern.every((wanted) => value.some((item) => matchesPattern(item, wanted)));
  if (pattern !== null && typeof pattern === "object") {
    if (value === null || typeof value !== "object") return false;
    return Object.entries(pattern).every(([key, wanted]) => matchesPattern((value as Record<string, Json>)[key], wanted));
  }
  return value === pattern;
}

/** The codes a value carries, as `system|code` (a bare `code` has no system). */
function codesOf(value: Json, type: string): { system: string | null; code: string }[] {
  const coding = (c: Json) => {
    const { system, code } = (c ?? {}) as { system?: string; code?: string };
    return code ? [{ system: system ?? null, code }] : [];
  };
  if (type === "code" && typeof value === "string") return [{ system: null, code: value }];
  if (type === "Coding") return coding(value);
  if (type === "CodeableConcept") return (((value ?? {}) as { coding?: Json[] }).coding ?? []).flatMap(coding);
  return [];
}

const bareCodesOf = new WeakMap<ReadonlySet<string>, Set<string>>();

/** The codes of an expansion without their systems (a `code` element carries no system). */
function bareCodes(expansion: ReadonlySet<string>): Set<string> {
  let codes = bareCodesOf.get(expansion);
  if (!codes) {
    codes = new Set([...expansion].map((member) => member.slice(member.lastIndexOf("|") + 1)));
    bareCodesOf.set(expansion, codes);
  }
  return codes;
}

/**
 * A required binding: the value (code, Coding or CodeableConcept) must be in the value set.
 * Null when it is; a message when not. Value sets that cannot be expanded offline are not checked.
 */
export function bindingProblem(element: ElementDefinition, value: Json, type: string, terminology: OfflineTerminology): string | null {
  const binding = element.binding;
  if (binding?.strength !== "required" || !binding.valueSet) return null;
  const expansion = terminology.expand(binding.valueSet);
  if (!expansion) return null;
  const codes = codesOf(value, type);
  if (codes.length === 0 && type !== "CodeableConcept") return null;
  const inSet = (entry: { system: string | null; code: string }) =>
    entry.system ? expansion.has(`${entry.system}|${entry.code}`) : bareCodes(expansion).has(entry.code);
  if (codes.some(inSet)) return null;
  const shown = codes.map((entry) => (entry.system ? `${entry.system}|${entry.code}` : entry.code)).join(", ") || "no code";
  return `${shown} is not in the required value set ${binding.valueSet.split("|")[0]}`;
}

/** The JavaScript type a FHIR primitive has in JSON. */
export function primitiveJsonType(type: string): "boolean" | "number" | "string" {
  if (type === "boolean" || type === "http://hl7.org/fhirpath/System.Boolean") return "boolean";
  if (["integer", "decimal", "positiveInt", "unsignedInt", "http://hl7.org/fhirpath/System.Integer", "http://hl7.org/fhirpath/System.Decimal"].includes(type))
    return "number";
  return "string";
}

const regexes = new WeakMap<ElementDefinition, RegExp | null>();

/** The regex R4 states for a primitive type's value (an extension on `<type>.value`'s type), compiled once. */
export function primitiveRegex(valueElement: ElementDefinition | undefined): RegExp | null {
  if (!valueElement) return null;
  if (!regexes.has(valueElement)) {
    const regex = valueElement.type?.[0]?.extension?.find((extension) => extension.url === "http://hl7.org/fhir/StructureDefinition/regex")?.valueString;
    regexes.set(valueElement, regex ? new RegExp(`^(?:${regex})$`) : null);
  }
  return regexes.get(valueElement) ?? null;
}

/** base64 checked without R4's regex, which backtracks badly on a multi-megabyte PDF. */
export const BASE64 = /^[A-Za-z0-9+/\s]*={0,2}\s*$/;

/**
 * Two invariants R4 puts on every element and every Reference, evaluated directly on the JSON:
 * as FHIRPath they were most of the validation's time (tens of thousands of evaluations for a
 * long conversation). Each is used only while the definition states exactly this expression.
 */
const NATIVE_INVARIANTS: Record<string, { expression: string; holds(value: Json, env: { rootResource: Json }): boolean }> = {
  "ele-1": {
    expression: "hasValue() or (children().count() > id.count())",
    holds: (value) => {
      if (value === null || value === undefined || value === "") return false;
      if (typeof value !== "object" || Array.isArray(value)) return true;
      return Object.keys(value).some((key) => key !== "id" && key !== "fhir_comments");
    },
  },
  "ref-1": {
    expression: "reference.startsWith('#').not() or (reference.substring(1).trace('url') in %rootResource.contained.id.trace('ids'))",
    holds: (value, env) => {
      const reference = (value as { reference?: unknown } | null)?.reference;
      if (typeof reference !== "string" || !reference.startsWith("#")) return true;
      const contained = (env.rootResource as { contained?: { id?: string }[] } | null)?.contained ?? [];
      return contained.some((resource) => resource.id === reference.slice(1));
    },
  },
};

type Compiled = (resource: Json, env: Record<string, Json>) => Json[];

/** FHIRPath invariants (R4 model), each expression compiled once per element path. */
export class Invariants {
  private readonly compiled = new Map<string, Compiled>();

  /** Keys and messages of the error-severity invariants the value breaks. */
  broken(element: ElementDefinition, value: Json, env: { resource: Json; rootResource: Json }, alreadyChecked: ElementDefinition | null = null): string[] {
    const broken: string[] = [];
    const checked = new Set((alreadyChecked?.constraint ?? []).map((constraint) => constraint.key));
    for (const constraint of element.constraint ?? []) {
      if (constraint.severity !== "error" || !constraint.expression || checked.has(constraint.key)) continue;
      const native = NATIVE_INVARIANTS[constraint.key];
      if (native && constraint.expression === native.expression) {
        if (!native.holds(value, env)) broken.push(`invariant ${constraint.key} failed: ${constraint.human ?? constraint.expression}`);
        continue;
      }
      // R4's dom-3 applies as() to a collection (descendants()), which FHIRPath makes an error;
      // R5 corrected it to ofType(), which is what it means.
      const expression = constraint.expression.replaceAll("descendants().as(", "descendants().ofType(");
      const base = (element.path ?? "").replace(/\[x\]$/, "");
      const cacheKey = `${base}\u0000${expression}`;
      let run = this.compiled.get(cacheKey);
      if (!run) {
        run = fhirpath.compile({ base, expression }, r4Model as unknown as Parameters<typeof fhirpath.compile>[1], {
          traceFn: () => undefined,
        }) as unknown as Compiled;
        this.compiled.set(cacheKey, run);
      }
      let result: Json[];
      try {
        result = run(value, env);
      } catch (error) {
        broken.push(`invariant ${constraint.key} could not be evaluated (${error instanceof Error ? error.message : String(error)})`);
        continue;
      }
      if (result.length === 1 && result[0] === false) broken.push(`invariant ${constraint.key} failed: ${constraint.human ?? constraint.expression}`);
    }
    return broken;
  }
}
