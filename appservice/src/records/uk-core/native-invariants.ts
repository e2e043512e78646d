type Json = unknown;
type JsonObject = Record<string, Json>;

/**
 * Whether the invariant holds, evaluated directly on the JSON; `undefined` where this shape is
 * not one the native form is written for (then FHIRPath evaluates it, as for any other).
 */
export type NativeCheck = (value: Json, env: { resource: Json; rootResource: Json }) => boolean | undefined;

export interface NativeInvariant {
  /** Used only while the definition states exactly this expression. */
  expression: string;
  holds: NativeCheck;
}

const isObject = (value: Json): value is JsonObject => value !== null && typeof value === "object" && !Array.isArray(value);
/** FHIRPath's `x.exists()` for a property read from JSON (an absent or null property is empty). */
const exists = (owner: JsonObject, key: string) => (owner[key] !== undefined && owner[key] !== null) || owner[`_${key}`] != null;

/** The bundle's entries, or undefined where `entry` is not the array of objects R4 says it is. */
function entriesOf(bundle: Json): JsonObject[] | undefined {
  if (!isObject(bundle)) return undefined;
  if (bundle.entry === undefined) return [];
  return Array.isArray(bundle.entry) && bundle.entry.every(isObject) ? bundle.entry : undefined;
}

/** `entry.all(<key>.exists() = (%resource.type = a or ...))`: the key present exactly when the bundle's type is one of these. */
function presentExactlyForTypes(key: string, types: string[]): NativeCheck {
  return (value, env) => {
    const entries = entriesOf(value);
    const type = isObject(env.resource) ? env.resource.type : undefined;
    if (!entries || typeof type !== "string") return undefined;
    const wanted = types.includes(type);
    return entries.every((entry) => exists(entry, key) === wanted);
  };
}

/** `type = '<type>' implies ...`: true whenever the bundle is of another type (the rest goes to FHIRPath). */
function onlyFor(bundleType: string): NativeCheck {
  return (value) => (isObject(value) && typeof value.type === "string" && value.type !== bundleType ? true : undefined);
}

/** `contained` absent: every dom-2..5 expression starts from `contained`, so each is trivially true. */
const noContained: NativeCheck = (value) => (isObject(value) && value.contained === undefined ? true : undefined);

/**
 * R4 invariants evaluated on the JSON. ele-1 and ref-1 sit on every element and reference; the
 * Bundle's own (bdl-*) range over all its entries, and fhirpath.js made them most of a 2,000-entry
 * filing's validation (`isDistinct()` compares every pair); dom-* sit on every resource. Each is
 * the same test the expression states; a shape it is not written for goes to FHIRPath.
 */
export const NATIVE_INVARIANTS: Record<string, NativeInvariant> = {
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
  "bdl-1": {
    expression: "total.empty() or (type = 'searchset') or (type = 'history')",
    holds: (value) => {
      if (!isObject(value)) return undefined;
      if (!exists(value, "total")) return true;
      return typeof value.type === "string" ? value.type === "searchset" || value.type === "history" : undefined;
    },
  },
  "bdl-2": {
    expression: "entry.search.empty() or (type = 'searchset')",
    holds: (value) => {
      const entries = entriesOf(value);
      if (!entries) return undefined;
      if (!entries.some((entry) => exists(entry, "search"))) return true;
      const type = (value as JsonObject).type;
      return typeof type === "string" ? type === "searchset" : undefined;
    },
  },
  "bdl-3": {
    expression: "entry.all(request.exists() = (%resource.type = 'batch' or %resource.type = 'transaction' or %resource.type = 'history'))",
    holds: presentExactlyForTypes("request", ["batch", "transaction", "history"]),
  },
  "bdl-4": {
    expression: "entry.all(response.exists() = (%resource.type = 'batch-response' or %resource.type = 'transaction-response' or %resource.type = 'history'))",
    holds: presentExactlyForTypes("response", ["batch-response", "transaction-response", "history"]),
  },
  "bdl-7": {
    expression: "(type = 'history') or entry.where(fullUrl.exists()).select(fullUrl&resource.meta.versionId).isDistinct()",
    holds: (value) => {
      const entries = entriesOf(value);
      const type = isObject(value) ? value.type : undefined;
      if (!entries || typeof type !== "string") return undefined;
      if (type === "history") return true;
      // One pass with a Set where FHIRPath's isDistinct() compares every pair.
      const seen = new Set<string>();
      for (const entry of entries) {
        if (entry.fullUrl === undefined && entry._fullUrl === undefined) continue;
        const resource = entry.resource;
        const meta = isObject(resource) ? resource.meta : undefined;
        const versionId = isObject(meta) ? meta.versionId : undefined;
        if (typeof entry.fullUrl !== "string" || (versionId !== undefined && typeof versionId !== "string")) return undefined;
        const key = entry.fullUrl + (versionId ?? "");
        if (seen.has(key)) return false;
        seen.add(key);
      }
      return true;
    },
  },
  "bdl-5": {
    expression: "resource.exists() or request.exists() or response.exists()",
    holds: (value) => (isObject(value) ? exists(value, "resource") || exists(value, "request") || exists(value, "response") : undefined),
  },
  "bdl-8": {
    expression: "fullUrl.exists() implies fullUrl.contains('/_history/').not()",
    holds: (value) => {
      if (!isObject(value)) return undefined;
      if (value.fullUrl === undefined && value._fullUrl === undefined) return true;
      return typeof value.fullUrl === "string" ? !value.fullUrl.includes("/_history/") : undefined;
    },
  },
  "bdl-9": { expression: "type = 'document' implies (identifier.system.exists() and identifier.value.exists())", holds: onlyFor("document") },
  "bdl-10": { expression: "type = 'document' implies (timestamp.hasValue())", holds: onlyFor("document") },
  "bdl-11": { expression: "type = 'document' implies entry.first().resource.is(Composition)", holds: onlyFor("document") },
  "bdl-12": { expression: "type = 'message' implies entry.first().resource.is(MessageHeader)", holds: onlyFor("message") },
  "dom-2": { expression: "contained.contained.empty()", holds: noContained },
  "dom-3": {
    expression:
      "contained.where((('#'+id in (%resource.descendants().reference | %resource.descendants().as(canonical) | %resource.descendants().as(uri) | %resource.descendants().as(url))) or descendants().where(reference = '#').exists() or descendants().where(as(canonical) = '#').exists() or descendants().where(as(canonical) = '#').exists()).not()).trace('unmatched', id).empty()",
    holds: noContained,
  },
  "dom-4": { expression: "contained.meta.versionId.empty() and contained.meta.lastUpdated.empty()", holds: noContained },
  "dom-5": { expression: "contained.meta.security.empty()", holds: noContained },
};
