import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { describe, expect, it } from "vitest";

// Dependencies point inward (STYLE.md): the domain states the rules in its own words and reaches
// the world only through interfaces that the adapters implement. An import from a transport, a
// store, a Matrix adapter or their libraries would let the outside leak in, so this test reads
// every domain file's imports (static, `import type`, re-exports, `import()` and `import("x").T`)
// and names each one that points outward.
const ROOT = join(dirname(fileURLToPath(import.meta.url)), "../..");
const SRC = join(ROOT, "appservice/src");
const DOMAIN = join(SRC, "domain");

const OUTER_FOLDERS = ["http", "storage", "matrix", "synapse"];
const OUTER_PACKAGES = [/^express(\/|$)/, /^typeorm(\/|$)/, /^pg(\/|$)/, /^matrix-js-sdk(\/|$)/, /^matrix-appservice(\/|$)/, /^@matrix-org\//];

/** Every module specifier the source names, in the order written. */
function importsOf(fileName: string, text: string): string[] {
  const source = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      found.push(node.moduleSpecifier.text);
    } else if (
      ts.isImportEqualsDeclaration(node) &&
      ts.isExternalModuleReference(node.moduleReference) &&
      ts.isStringLiteral(node.moduleReference.expression)
    ) {
      found.push(node.moduleReference.expression.text);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const [specifier] = node.arguments;
      // A computed import cannot be checked by reading, so it is reported rather than trusted.
      found.push(specifier && ts.isStringLiteralLike(specifier) ? specifier.text : `<computed: ${specifier?.getText(source) ?? ""}>`);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
      found.push(node.argument.literal.text);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** Why `specifier`, imported by the file at `path`, points out of the domain; null when it does not. */
function outwardImport(path: string, specifier: string): string | null {
  if (specifier.startsWith("<computed")) return "an import whose target cannot be read";
  if (specifier.startsWith(".")) {
    const target = relative(SRC, resolve(dirname(path), specifier));
    const folder = target.split(/[\\/]/)[0] ?? "";
    return OUTER_FOLDERS.includes(folder) ? `appservice/src/${folder}/` : null;
  }
  const library = OUTER_PACKAGES.find((pattern) => pattern.test(specifier));
  return library ? `the library ${specifier}` : null;
}

function domainFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return domainFiles(path);
    return /\.(c|m)?tsx?$/.test(entry.name) ? [path] : [];
  });
}

describe("appservice/src/domain imports nothing from the outside", () => {
  it("reads every kind of import a file can make", () => {
    const text = [
      'import { a } from "./a.js";',
      'import type { B } from "../http/contract.js";',
      'export { c } from "express";',
      'export type { D } from "typeorm";',
      'import * as e from "pg";',
      'import f = require("matrix-appservice");',
      'const g = await import("../storage/g.js");',
      'type H = import("@matrix-org/matrix-sdk-crypto-wasm").OlmMachine;',
      "const i = await import(somewhere);",
    ].join("\n");
    expect(importsOf("sample.ts", text)).toEqual([
      "./a.js",
      "../http/contract.js",
      "express",
      "typeorm",
      "pg",
      "matrix-appservice",
      "../storage/g.js",
      "@matrix-org/matrix-sdk-crypto-wasm",
      "<computed: somewhere>",
    ]);
  });

  it("tells the outside from the domain's own neighbours", () => {
    const file = join(DOMAIN, "rooms/room.ts");
    const outward = (specifier: string) => outwardImport(file, specifier);
    expect(outward("../../http/contract.js")).toBe("appservice/src/http/");
    expect(outward("../../storage/room-store.js")).toBe("appservice/src/storage/");
    expect(outward("../../matrix/bot-client.js")).toBe("appservice/src/matrix/");
    expect(outward("../../synapse/admin-client.js")).toBe("appservice/src/synapse/");
    expect(outward("matrix-js-sdk/lib/models/event.js")).toBe("the library matrix-js-sdk/lib/models/event.js");
    expect(outward("pg")).toBe("the library pg");
    expect(outward("./room-kind.js")).toBeNull();
    expect(outward("../access/roles.js")).toBeNull();
    expect(outward("../../testing/fakes.js")).toBeNull();
    expect(outward("node:crypto")).toBeNull();
    expect(outward("pg-boss")).toBeNull();
    expect(outward("zod")).toBeNull();
  });

  it("no domain file imports from http/, storage/, matrix/, synapse/, express, typeorm, pg or a Matrix library", () => {
    const files = domainFiles(DOMAIN);
    expect(files.length).toBeGreaterThan(50);
    const offending = files.flatMap((path) =>
      importsOf(path, readFileSync(path, "utf8")).flatMap((specifier) => {
        const why = outwardImport(path, specifier);
        return why ? [`${relative(ROOT, path)} imports "${specifier}" (${why})`] : [];
      }),
    );
    expect(offending).toEqual([]);
    // Parsing every domain file takes well under a second alone, but the unit tier runs on a
    // shared, loaded machine: a generous allowance keeps a slow run from reading as a failure.
  }, 30_000);
});
