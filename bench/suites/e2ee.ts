import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { round, type SuiteResult } from "../figures.js";
import { HANDOVER_NODE_FLAGS } from "../node-flags.js";

const run = promisify(execFile);
const RUNS = 3;

interface WorkerResult {
  decryptMs: number;
  naiveMs: number;
  encryptMs: number;
  restoreMs: number;
  storeRestoreMs: number;
  storeEntries: number;
  storeKb: number;
  flushP50Ms: number;
  flushMaxMs: number;
  sessions: number;
  peakRssMb: number;
}

/**
 * Reading an encrypted conversation: 2,000 megolm-encrypted events (20 sessions) decrypted by the
 * bot's device after a restart (its whole crypto store back from the sealed mirror), through the
 * same reader and transcript filing uses; and the cost of mirroring the store as keys arrive.
 * The median of three fresh processes.
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
      "e2ee.naive_store_decrypt_2000_ms": round(median(runs.map((result) => result.naiveMs)), 0),
      "e2ee.restore_keys_ms": round(median(runs.map((result) => result.restoreMs)), 0),
      "e2ee.store_restore_ms": round(median(runs.map((result) => result.storeRestoreMs)), 0),
      "e2ee.store_entries": median(runs.map((result) => result.storeEntries)),
      "e2ee.store_kb": round(median(runs.map((result) => result.storeKb)), 0),
      "e2ee.store_flush_p50_ms": round(median(runs.map((result) => result.flushP50Ms)), 2),
      "e2ee.store_flush_max_ms": round(Math.max(...runs.map((result) => result.flushMaxMs)), 2),
      "e2ee.rss_mb": round(Math.max(...runs.map((result) => result.peakRssMb)), 1),
    },
    targets: [
      { figure: "e2ee.decrypt_events_per_s", op: ">=", value: 500 },
      { figure: "e2ee.rss_mb", op: "<", value: 300 },
    ],
    notes: [
      `e2ee: 2,000 megolm events in ${runs[0]?.sessions ?? "?"} sessions (rotated every 100 messages) received by the bot's device on its mirrored store; after a restart the same device comes back from the sealed mirror (store_restore_ms) and reads them through DecryptingConversationReader and the transcript; decrypt figures are the median of ${RUNS} fresh processes`,
      "e2ee: decrypt figures include making the reader's working copy of the room's sessions (forRoom); naive_store_decrypt_2000_ms decrypts the same events one by one straight from the device's IndexedDB store",
      "e2ee: store_flush_*_ms is the mirroring of the device store's changes after each room-key delivery (the work added before a transaction's ack; PostgreSQL's own write time not included); restore_keys_ms is the fallback, a replacement device given the separately sealed room keys",
      "e2ee: rss_mb is the highest peak resident set (VmHWM) of the worker processes, which also hold the encrypting side (a second OlmMachine)",
    ],
  };
}
