import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { meets, type SuiteResult } from "./figures.js";
import { devices } from "./suites/devices.js";
import { directory } from "./suites/directory.js";
import { directoryIncremental } from "./suites/directory-incremental.js";
import { directoryLeaver } from "./suites/directory-leaver.js";
import { e2ee } from "./suites/e2ee.js";
import { exportSuite } from "./suites/export.js";
import { federation } from "./suites/federation.js";
import { ingest } from "./suites/ingest.js";
import { retention } from "./suites/retention.js";
import { purgeBench } from "./suites/retention-purge.js";

/** `npm run bench [suite ...]`: runs the suites and writes bench/results/latest.json. */
const SUITES: Record<string, () => Promise<SuiteResult>> = {
  ingest,
  export: exportSuite,
  retention,
  federation,
  // Planning (no homeserver), then a leaver against a real Synapse (issue 16.1).
  directory: async () => {
    const planning = await directory();
    const leaver = await directoryLeaver();
    return {
      figures: { ...planning.figures, ...leaver.figures },
      targets: [...planning.targets, ...leaver.targets],
      notes: [...(planning.notes ?? []), ...(leaver.notes ?? [])],
    };
  },
  "directory-leaver": directoryLeaver,
  // The purges alone (issue 16.3): the part of \`retention\` that needs the cached fixture.
  "retention-purge": async () => {
    const notes: string[] = [];
    const figures = await purgeBench(notes);
    return { figures, targets: [{ figure: "retention.sweep_latency_ratio", op: "<", value: 2 }], notes };
  },
  "directory-incremental": directoryIncremental,
  e2ee,
  devices,
};

async function main(): Promise<void> {
  const requested = process.argv.slice(2);
  const unknown = requested.filter((name) => !(name in SUITES));
  if (unknown.length > 0) throw new Error(`unknown suite(s): ${unknown.join(", ")}; known: ${Object.keys(SUITES).join(", ")}`);
  // The suites run the compiled appservice, as a trust would.
  execFileSync("npm", ["run", "build", "-w", "appservice"], { stdio: "inherit" });
  const figures: Record<string, number> = {};
  const targets: { figure: string; target: string; actual: number | null; met: boolean }[] = [];
  const notes: string[] = [];
  for (const name of requested.length > 0 ? requested : Object.keys(SUITES)) {
    console.log(`bench: ${name}`);
    const result = await (SUITES[name] as () => Promise<SuiteResult>)();
    Object.assign(figures, result.figures);
    notes.push(...(result.notes ?? []));
    for (const target of result.targets) {
      const actual = result.figures[target.figure];
      targets.push({ figure: target.figure, target: `${target.op} ${target.value}`, actual: actual ?? null, met: meets(target, actual) });
    }
  }
  const report = {
    at: new Date().toISOString(),
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? "unknown", memoryGb: Math.round(totalmem() / 2 ** 30), node: process.version },
    figures,
    targets,
    notes,
  };
  mkdirSync("bench/results", { recursive: true });
  writeFileSync("bench/results/latest.json", `${JSON.stringify(report, null, 2)}\n`);
  for (const target of targets) console.log(`${target.met ? "met " : "MISS"} ${target.figure} = ${target.actual} (target ${target.target})`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
