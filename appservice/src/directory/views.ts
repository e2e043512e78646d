import type { MembershipAction } from "../domain/directory/planner.js";
import type { RunAction, SyncRun } from "../domain/directory/ports.js";
import type { RunResult } from "../domain/directory/reconciler.js";
import type { DirectoryAction, DirectoryRun, DirectoryRunDetail } from "../http/contract.js";

/** Largest number of actions one API answer lists; the summary still counts them all. */
export const ACTIONS_SHOWN = 500;

const unique = (values: string[]) => [...new Set(values)];

export function actionView(action: MembershipAction, outcome: RunAction["outcome"] = null, error: string | null = null): DirectoryAction {
  const reasons = "reasons" in action ? action.reasons : action.kind === "set-power" ? action.changes.flatMap((change) => change.reasons) : [];
  return {
    kind: action.kind,
    roomId: "roomId" in action ? action.roomId : null,
    userId: "userId" in action ? action.userId : null,
    why: "why" in action ? action.why : null,
    rules: unique(reasons.map((reason) => reason.rule)),
    sources: unique(reasons.map((reason) => reason.source)),
    changes: action.kind === "set-power" ? action.changes.map(({ userId, from, to }) => ({ userId, from, to })) : [],
    outcome,
    error,
  };
}

export function runView(run: SyncRun): DirectoryRun {
  return {
    id: run.id,
    trigger: run.trigger,
    actor: run.actor,
    status: run.status,
    startedAt: run.startedAt.toISOString(),
    finishedAt: run.finishedAt?.toISOString() ?? null,
    reason: run.reason,
    decidedBy: run.decidedBy,
    summary: run.summary,
  };
}

export function runDetail(run: SyncRun, actions: RunAction[]): DirectoryRunDetail {
  return {
    ...runView(run),
    actions: actions.slice(0, ACTIONS_SHOWN).map((item) => actionView(item.action, item.outcome, item.error)),
    actionsShown: Math.min(actions.length, ACTIONS_SHOWN),
    actionsTotal: actions.length,
  };
}

/** A run that was not stored (dry run, no-op, refused preview) shown the same way. */
export function resultDetail(result: RunResult, trigger: string, actor: string, at: Date): DirectoryRunDetail {
  return {
    id: result.runId,
    trigger,
    actor,
    status: result.status,
    startedAt: at.toISOString(),
    finishedAt: at.toISOString(),
    reason: result.reason,
    decidedBy: null,
    summary: result.summary,
    actions: result.actions.slice(0, ACTIONS_SHOWN).map((action) => actionView(action)),
    actionsShown: Math.min(result.actions.length, ACTIONS_SHOWN),
    actionsTotal: result.actions.length,
  };
}
