import type { DataSource } from "typeorm";
import type { RecentRemovals } from "../domain/directory/guard.js";
import type { MembershipAction } from "../domain/directory/planner.js";
import type { RunAction, RunStatus, RunStore, RunSummary, RunTrigger, SyncRun } from "../domain/directory/ports.js";
import { flatten } from "./directory-rule-store.js";

interface RunRow {
  id: string;
  trigger: RunTrigger;
  actor: string;
  status: RunStatus;
  started_at: Date;
  finished_at: Date | null;
  reason: string | null;
  fingerprint: string;
  summary: RunSummary;
  decided_by: string | null;
}

function toRun(row: RunRow): SyncRun {
  return {
    id: Number(row.id),
    trigger: row.trigger,
    actor: row.actor,
    status: row.status,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    reason: row.reason,
    fingerprint: row.fingerprint,
    summary: row.summary,
    decidedBy: row.decided_by,
  };
}

const BATCH = 1_000;

export class PostgresDirectoryRunStore implements RunStore {
  constructor(private readonly db: DataSource) {}

  async create(run: Omit<SyncRun, "id" | "finishedAt" | "decidedBy">, actions: readonly MembershipAction[]): Promise<number> {
    return this.db.transaction(async (manager) => {
      const [row] = (await manager.query(
        `INSERT INTO directory_runs (trigger, actor, status, started_at, finished_at, reason, fingerprint, summary)
         VALUES ($1, $2, $3, $4, CASE WHEN $3 IN ('refused') THEN $4::timestamptz END, $5, $6, $7) RETURNING id`,
        [run.trigger, run.actor, run.status, run.startedAt, run.reason, run.fingerprint, JSON.stringify(run.summary)],
      )) as { id: string }[];
      const id = Number(row?.id);
      await insertActions(manager, id, actions);
      return id;
    });
  }

  async get(id: number): Promise<SyncRun | null> {
    const [row] = (await this.db.query("SELECT * FROM directory_runs WHERE id = $1", [id])) as RunRow[];
    return row ? toRun(row) : null;
  }

  async list(limit: number): Promise<SyncRun[]> {
    return ((await this.db.query("SELECT * FROM directory_runs ORDER BY id DESC LIMIT $1", [limit])) as RunRow[]).map(toRun);
  }

  async actions(id: number): Promise<RunAction[]> {
    const rows = (await this.db.query("SELECT action, outcome, error FROM directory_run_actions WHERE run_id = $1 ORDER BY idx", [id])) as {
      action: MembershipAction;
      outcome: "done" | "failed" | null;
      error: string | null;
    }[];
    return rows;
  }

  async openHeld(): Promise<SyncRun | null> {
    const [row] = (await this.db.query("SELECT * FROM directory_runs WHERE status = 'held'")) as RunRow[];
    return row ? toRun(row) : null;
  }

  async removedSince(since: Date): Promise<RecentRemovals> {
    // Approved runs (decided_by set) are left out: a person already looked at those removals.
    const rows = (await this.db.query(
      `SELECT a.action->>'kind' AS kind, a.action->>'userId' AS user_id
         FROM directory_run_actions a JOIN directory_runs r ON r.id = a.run_id
        WHERE r.started_at >= $1 AND r.decided_by IS NULL AND a.outcome = 'done'
          AND a.action->>'kind' IN ('kick', 'end-sessions', 'lock', 'deactivate')`,
      [since],
    )) as { kind: string; user_id: string }[];
    const accounts = new Set(rows.filter((row) => row.kind !== "kick").map((row) => row.user_id));
    return { memberships: rows.filter((row) => row.kind === "kick").length, accounts };
  }

  async setStatus(id: number, status: RunStatus, fields: { reason?: string; decidedBy?: string; summary?: RunSummary; finished?: Date } = {}): Promise<void> {
    await this.db.query(
      `UPDATE directory_runs SET status = $2, reason = coalesce($3, reason), decided_by = coalesce($4, decided_by),
         summary = coalesce($5::jsonb, summary), finished_at = coalesce($6, finished_at) WHERE id = $1`,
      [id, status, fields.reason ?? null, fields.decidedBy ?? null, fields.summary ? JSON.stringify(fields.summary) : null, fields.finished ?? null],
    );
  }

  async setOutcome(id: number, index: number, outcome: "done" | "failed", error: string | null): Promise<void> {
    await this.db.query("UPDATE directory_run_actions SET outcome = $3, error = $4 WHERE run_id = $1 AND idx = $2", [id, index, outcome, error]);
  }

  async interruptApplying(): Promise<number[]> {
    const result = await this.db.query("UPDATE directory_runs SET status = 'interrupted', finished_at = now() WHERE status = 'applying' RETURNING id");
    return flatten<{ id: string }>(result).map((row) => Number(row.id));
  }
}

async function insertActions(
  manager: { query(sql: string, params: unknown[]): Promise<unknown> },
  id: number,
  actions: readonly MembershipAction[],
): Promise<void> {
  for (let start = 0; start < actions.length; start += BATCH) {
    const slice = actions.slice(start, start + BATCH);
    await manager.query(
      "INSERT INTO directory_run_actions (run_id, idx, action) SELECT $1, idx, action FROM unnest($2::int[], $3::jsonb[]) AS t (idx, action)",
      [id, slice.map((_, i) => start + i), slice.map((action) => JSON.stringify(action))],
    );
  }
}
