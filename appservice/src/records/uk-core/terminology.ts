import type { CodeSystem, CodeSystemConcept, ValueSet, ValueSetExpansionContains } from "@medplum/fhirtypes";

/** Finds a CodeSystem or ValueSet by canonical URL (without version). */
export type TerminologySource = (url: string) => CodeSystem | ValueSet | undefined;

/** The codes of a value set as `system|code`, or null where it cannot be expanded offline. */
export type Expansion = ReadonlySet<string> | null;

function conceptCodes(concepts: CodeSystemConcept[] | undefined, system: string, into: Set<string>): void {
  for (const concept of concepts ?? []) {
    into.add(`${system}|${concept.code}`);
    conceptCodes(concept.concept, system, into);
  }
}

function containsCodes(contains: ValueSetExpansionContains[] | undefined, into: Set<string>): void {
  for (const entry of contains ?? []) {
    if (entry.code && entry.system && !entry.abstract) into.add(`${entry.system}|${entry.code}`);
    containsCodes(entry.contains, into);
  }
}

/**
 * Expands value sets from the definitions held here, with no terminology server: a stated
 * expansion, or a compose of whole code systems, listed concepts and other value sets. A value
 * set that needs a filter, or a code system not held in full (SNOMED CT, LOINC, MIME types,
 * languages), cannot be expanded: its bindings are then not checked, and `unexpandable` says so.
 */
export class OfflineTerminology {
  private readonly expansions = new Map<string, Expansion>();

  constructor(private readonly source: TerminologySource) {}

  expand(valueSetUrl: string): Expansion {
    const url = valueSetUrl.split("|")[0] as string;
    if (!this.expansions.has(url)) {
      this.expansions.set(url, null); // guards a value set that includes itself
      this.expansions.set(url, this.compute(url));
    }
    return this.expansions.get(url) ?? null;
  }

  private compute(url: string): Expansion {
    const valueSet = this.source(url);
    if (valueSet?.resourceType !== "ValueSet") return null;
    const codes = new Set<string>();
    if (valueSet.expansion?.contains) {
      containsCodes(valueSet.expansion.contains, codes);
      return codes;
    }
    for (const include of valueSet.compose?.include ?? []) {
      const part = this.part(include);
      if (!part) return null;
      for (const code of part) codes.add(code);
    }
    for (const exclude of valueSet.compose?.exclude ?? []) {
      for (const code of this.part(exclude) ?? []) codes.delete(code);
    }
    return codes;
  }

  private part(include: NonNullable<ValueSet["compose"]>["include"][number]): Set<string> | null {
    if (include.filter?.length) return null;
    const codes = new Set<string>();
    if (include.system && include.concept) {
      for (const concept of include.concept) codes.add(`${include.system}|${concept.code}`);
    } else if (include.system) {
      const codeSystem = this.source(include.system);
      if (codeSystem?.resourceType !== "CodeSystem" || codeSystem.content !== "complete") return null;
      conceptCodes(codeSystem.concept, include.system, codes);
    }
    for (const nested of include.valueSet ?? []) {
      const expansion = this.expand(nested);
      if (!expansion) return null;
      // Both a system and value sets: the intersection.
      const members = include.system ? [...codes].filter((code) => expansion.has(code)) : [...expansion];
      if (include.system) codes.clear();
      for (const code of members) codes.add(code);
    }
    return codes;
  }
}
