import type { ElementDefinition } from "@medplum/fhirtypes";
import fhirpath from "fhirpath";
import r4Model from "fhirpath/fhir-context/r4/index.js";
import { NATIVE_INVARIANTS } from "./native-invariants.js";
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

/** The base64 alphabet, whitespace anywhere, `=` padding only at the end: linear (no nested repetition to backtrack). */
const BASE64_ALPHABET = /^[A-Za-z0-9+/\s]*(?:=\s*){0,2}$/;

/**
 * base64Binary: the alphabet in whole groups of four, whitespace ignored. Not R4's regex, which
 * backtracks badly on a multi-megabyte PDF; the regex engine scans the characters natively.
 */
export function isBase64Binary(value: string): boolean {
  if (!BASE64_ALPHABET.test(value)) return false;
  const significant = /\s/.test(value) ? value.replace(/\s+/g, "").length : value.length;
  return significant > 0 && significant % 4 === 0;
}

const INTEGER_RANGE: Record<string, [number, number]> = {
  integer: [-2_147_483_648, 2_147_483_647],
  positiveInt: [1, 2_147_483_647],
  unsignedInt: [0, 2_147_483_647],
  "http://hl7.org/fhirpath/System.Integer": [-2_147_483_648, 2_147_483_647],
};
/** A character below U+0020 other than tab, LF and CR (R4: strings SHALL NOT hold them). */
function hasControlCharacter(value: string): boolean {
  for (let index = 0; index < value.length; index++) {
    const c = value.charCodeAt(index);
    if (c < 32 && c !== 9 && c !== 10 && c !== 13) return true;
  }
  return false;
}
/** FHIR strings are at most 1 MB (R4 datatypes); base64Binary is not a string in this sense. */
const MAX_STRING_LENGTH = 1024 * 1024;

function daysIn(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/**
 * What R4's datatypes page states of a primitive's value beyond its type's regex: numbers finite,
 * integers whole and in range; strings not empty, not only whitespace, no control characters but
 * tab, CR and LF, at most 1 MB; dates that exist (the regex allows 31 February). Null when it holds.
 */
export function primitiveValueProblem(type: string, value: string | number | boolean): string | null {
  if (typeof value === "number") {
    if (!Number.isFinite(value)) return "must be a finite number";
    const range = INTEGER_RANGE[type];
    if (range && !Number.isInteger(value)) return `must be a whole number (${type})`;
    if (range && (value < range[0] || value > range[1])) return `must be in the range ${range[0]}..${range[1]} (${type})`;
    return null;
  }
  if (typeof value !== "string") return null;
  if (value === "") return "must not be empty";
  if (type === "base64Binary") return null;
  if (value.trim() === "") return "must contain non-whitespace content";
  if (value.length > MAX_STRING_LENGTH) return "is longer than 1 MB";
  if (type !== "xhtml" && hasControlCharacter(value)) return "contains a control character";
  if ((type === "date" || type === "dateTime" || type === "instant") && /^\d{4}-\d{2}-\d{2}/.test(value)) {
    const [year, month, day] = [value.slice(0, 4), value.slice(5, 7), value.slice(8, 10)].map(Number) as [number, number, number];
    if (day > daysIn(year, month)) return `${value} is not a date that exists`;
  }
  return null;
}

type Compiled = (resource: Json, env: Record<string, Json>) => Json[];

/** FHIRPath invariants (R4 model), each expression compiled once per element path. */
export class Invariants {
  private readonly compiled = new Map<string, Compiled>();

  /** `native: false` evaluates every invariant with FHIRPath (the bench's comparison, and tests that the two agree). */
  constructor(private readonly options: { native: boolean } = { native: true }) {}

  /** Keys and messages of the error-severity invariants the value breaks. */
  broken(element: ElementDefinition, value: Json, env: { resource: Json; rootResource: Json }, alreadyChecked: ElementDefinition | null = null): string[] {
    const broken: string[] = [];
    const checked = new Set((alreadyChecked?.constraint ?? []).map((constraint) => constraint.key));
    for (const constraint of element.constraint ?? []) {
      if (constraint.severity !== "error" || !constraint.expression || checked.has(constraint.key)) continue;
      const native = this.options.native ? NATIVE_INVARIANTS[constraint.key] : undefined;
      const holds = native && constraint.expression === native.expression ? native.holds(value, env) : undefined;
      if (holds !== undefined) {
        if (!holds) broken.push(`invariant ${constraint.key} failed: ${constraint.human ?? constraint.expression}`);
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
