import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { round, type SuiteResult } from "../figures.js";

const run = promisify(execFile);
const RUNS = 3;
/** The flags the `handover` launcher and the container run Node with (docs/performance.md). */
const HANDOVER_NODE_FLAGS = ["--max-semi-space-size=4"];

interface WorkerResult {
  decryptMs: number;
  encryptMs: number;
  restoreMs: number;
  sessions: number;
  peakRssMb: number;
}

/**
 * Reading an encrypted conversation: 2,000 megolm-encrypted events (20 sessions) decrypted by a
 * bot device whose keys came back from their sealed stored form, through the same reader and
 * transcript filing uses. The median of three fresh processes.
 */
export async function e2ee(): Promise<SuiteResult> {
  const runs: WorkerResult[] = [];
  for (let index = 0; index < RUNS; index++) {
    const { stdout } = await run(process.execPath, [...HANDOVER_NODE_FLAGS, "--import", "tsx", "bench/suites/e2ee-worker.ts"], { maxBuffer: 10_000_000 });
    runs.push(JSON.parse(stdout.trim().split("\n").pop() ?? "{}") as WorkerResult);
  }
  const median = (values: number[]) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? Number.NaN;
  const decryptMs = median(runs.map((result) => result.decryptMs));
  return {
    figures: {
      "e2ee.decrypt_events_per_s": round(2000 / (decryptMs / 1000), 0),
      "e2ee.decrypt_2000_ms": round(decryptMs, 0),
      "e2ee.restore_keys_ms": round(median(runs.map((result) => result.restoreMs)), 0),
      "e2ee.rss_mb": round(Math.max(...runs.map((result) => result.peakRssMb)), 1),
    },
    targets: [
      { figure: "e2ee.decrypt_events_per_s", op: ">=", value: 500 },
      { figure: "e2ee.rss_mb", op: "<", value: 300 },
    ],
    notes: [
      `e2ee: 2,000 megolm events in ${runs[0]?.sessions ?? "?"} sessions (rotated every 100 messages), keys restored from their sealed (AES-256-GCM) stored form into a fresh device, then read through DecryptingConversationReader and the transcript; decrypt figures are the median of ${RUNS} fresh processes`,
      "e2ee: rss_mb is the highest peak resident set (VmHWM) of the worker processes, which also hold the encrypting side (a second OlmMachine)",
    ],
  };
}
