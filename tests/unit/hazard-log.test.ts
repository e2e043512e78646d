import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

// The hazard log names, for every control, the test that proves it. A name that no longer
// matches a test would leave a control claimed and unproven: this test keeps the log honest.
const ROOT = join(dirname(fileURLToPath(import.meta.url)), "../..");
const LOG = join(ROOT, "docs/safety/hazard-log.md");

interface Hazard {
  id: string;
  body: string;
}

/** `path/to/file.test.ts` › "exact test name" */
const EVIDENCE = /`([^`]+\.(?:test|spec)\.ts)` › "([^"]+)"/g;

function hazards(text: string): Hazard[] {
  return text
    .split(/^### /m)
    .slice(1)
    .map((section) => ({ id: section.slice(0, section.indexOf("\n")).trim(), body: section }))
    .filter((hazard) => /^H-\d{2}\b/.test(hazard.id));
}

/** Test names declared in a file: it("..."), test('...'), it(`...`), also through .each/.concurrent. */
function declaredTests(file: string): Set<string> {
  const source = readFileSync(join(ROOT, file), "utf8");
  const names = new Set<string>();
  // it("name", ...) and it.each(table)("name", ...)
  for (const match of source.matchAll(/(?:\b(?:it|test)(?:\.\w+)*|\.each\([\s\S]*?\))\(\s*(["'`])((?:\\.|(?!\1).)*)\1/g)) {
    names.add((match[2] ?? "").replace(/\\(.)/g, "$1"));
  }
  return names;
}

describe("the hazard log", () => {
  const text = readFileSync(LOG, "utf8");
  const all = hazards(text);

  it("lists hazards, each with cause, effect, initial risk, controls, evidence and residual risk", () => {
    expect(all.length).toBeGreaterThanOrEqual(15);
    for (const hazard of all) {
      for (const field of ["Cause", "Effect", "Initial risk", "Controls", "Evidence", "Residual risk"]) {
        expect(hazard.body, `${hazard.id} has no ${field}`).toContain(`**${field}**`);
      }
      expect([...hazard.body.matchAll(EVIDENCE)].length, `${hazard.id} names no test`).toBeGreaterThan(0);
    }
  });

  it("names only tests that exist", () => {
    const missing: string[] = [];
    for (const hazard of all) {
      for (const [, file = "", name = ""] of hazard.body.matchAll(EVIDENCE)) {
        if (!existsSync(join(ROOT, file))) missing.push(`${hazard.id}: no file ${file}`);
        else if (!declaredTests(file).has(name)) missing.push(`${hazard.id}: no test "${name}" in ${file}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it("gives every hazard a distinct id", () => {
    const ids = all.map((hazard) => hazard.id.split(/\s/)[0]);
    expect(new Set(ids).size).toBe(ids.length);
  });
});
