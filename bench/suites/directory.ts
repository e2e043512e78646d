import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { round, type SuiteResult } from "../figures.js";
import { HANDOVER_NODE_FLAGS } from "../node-flags.js";

const run = promisify(execFile);

interface WorkerFigures {
  planMs: number;
  rssMb: number;
  changes: number;
  writes: number;
  noopWrites: number;
  naiveWrites: number;
  naivePlanMs: number;
  people: number;
  groups: number;
  rooms: number;
  memberships: number;
  removals: number;
}

/**
 * Directory sync's planner on a generated directory (50,000 people, 2,000 groups of which 200
 * nest others, 2,000 managed rooms) after 1% churn, against a homeserver that had converged.
 * The planner is a pure function over snapshots, so no homeserver is needed; the measured run
 * happens in a child process so its peak RSS (VmHWM) is the planner's own, honestly including
 * the generated snapshots and the homeserver's state it holds.
 */
export async function directory(): Promise<SuiteResult> {
  const { stdout } = await run(process.execPath, [...HANDOVER_NODE_FLAGS, "--import", "tsx", "bench/suites/directory-worker.ts"], { maxBuffer: 1 << 20 });
  const figures = JSON.parse(stdout.trim().split("\n").at(-1) as string) as WorkerFigures;
  return {
    figures: {
      "directory.plan_ms": round(figures.planMs),
      "directory.rss_mb": round(figures.rssMb),
      "directory.changes": figures.changes,
      "directory.writes": figures.writes,
      "directory.writes_over_changes": round(figures.writes / figures.changes, 3),
      "directory.noop_writes": figures.noopWrites,
      "directory.naive_writes": figures.naiveWrites,
      "directory.naive_writes_over_changes": round(figures.naiveWrites / figures.changes, 1),
      "directory.memberships": figures.memberships,
    },
    targets: [
      { figure: "directory.plan_ms", op: "<", value: 3000 },
      { figure: "directory.rss_mb", op: "<", value: 400 },
      { figure: "directory.writes_over_changes", op: "=", value: 1 },
      { figure: "directory.noop_writes", op: "=", value: 0 },
    ],
    notes: [
      `directory: ${figures.people} people, ${figures.groups} groups, ${figures.rooms} managed rooms, ${figures.memberships} desired memberships; 1% churn needs ${figures.changes} homeserver writes (${figures.removals} removals).`,
      `directory: the naive full re-apply (every membership and every room's power levels sent again) would make ${figures.naiveWrites} writes, ${round(figures.naiveWrites / figures.changes, 1)}x the needed changes.`,
      "directory: a power-level change is one m.room.power_levels write per room, whatever the number of people in it whose level changes; it counts as one change.",
      "directory: rss_mb is the worker process's peak resident set, including the generated directory and the converged homeserver state it holds alongside the plan.",
    ],
  };
}
