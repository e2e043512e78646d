import { readdirSync, readFileSync, statSync } from "node:fs";
import { basename, dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

// docs/ promise controls and name the tests that prove them. A promise whose test has gone (or
// was renamed) is unproven: every test file a doc line names must exist, and every quoted test
// name on such a line must be a test declared somewhere in the repository.
const ROOT = join(dirname(fileURLToPath(import.meta.url)), "../..");

function walk(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    if (name === "node_modules" || name === "dist" || name.startsWith(".")) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path, out);
    else out.push(path);
  }
  return out;
}

const files = walk(ROOT);
const testFiles = files.filter((file) => /\.(test|spec)\.ts$/.test(file));
const declared = new Set<string>();
for (const file of testFiles) {
  // it("name"), test('name'), describe(`name`), and it.each(table)("name")
  for (const match of readFileSync(file, "utf8").matchAll(/(?:\b(?:it|test|describe)(?:\.\w+)*|\.each\([\s\S]*?\))\(\s*(["'`])((?:\\.|(?!\1).)*)\1/g)) {
    declared.add((match[2] ?? "").replace(/\\(.)/g, "$1"));
  }
}
const testBasenames = new Set(testFiles.map((file) => basename(file)));
const docs = files.filter((file) => file.startsWith(join(ROOT, "docs")) && file.endsWith(".md"));

describe("docs/ name only tests that exist", () => {
  it("finds the docs and the tests", () => {
    expect(docs.length).toBeGreaterThan(5);
    expect(declared.size).toBeGreaterThan(300);
  });

  it.each(docs.map((doc) => [relative(ROOT, doc)]))("%s", (doc) => {
    const problems: string[] = [];
    readFileSync(join(ROOT, doc), "utf8")
      .split("\n")
      .forEach((line, index) => {
        const named = [...line.matchAll(/([\w./-]+\.(?:test|spec)\.ts)/g)].map((match) => match[1] ?? "");
        for (const file of named) if (!testBasenames.has(basename(file))) problems.push(`line ${index + 1}: no test file ${file}`);
        if (named.length === 0) return;
        for (const [, name = ""] of line.matchAll(/"([^"]{12,})"/g)) if (!declared.has(name)) problems.push(`line ${index + 1}: no test "${name}"`);
      });
    expect(problems).toEqual([]);
  });
});
