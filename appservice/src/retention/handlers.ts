import type { z } from "zod";
import { checkedDurationMs, formatDuration } from "../config/duration.js";
import { HandoverError } from "../domain/errors.js";
import { deletionRecordsCsv } from "../domain/retention/deletion-csv.js";
import type { LegalHold, RoomPlan } from "../domain/retention/planner.js";
import type { RetentionPolicy } from "../domain/retention/policy.js";
import type { PolicyDraft, RetentionPolicyService } from "../domain/retention/policy-service.js";
import type { PurgeLedger, PurgeRecord } from "../domain/retention/ports.js";
import type { RoomPlanWithCount, SweepOutcome } from "../domain/retention/sweep.js";
import type { Session } from "../http/contract.js";
import type { DeletionRecord, LegalHoldView, policyDraftSchema, RetentionPolicyView, RoomRetention } from "../http/contract-retention.js";
import type { RouteHandlers } from "../http/web-server.js";

export interface RetentionApiServices {
  policies: RetentionPolicyService;
  ledger: PurgeLedger;
  plan(roomIds?: readonly string[]): Promise<RoomPlanWithCount[]>;
  /** Runs a sweep now as this person; null when another process is sweeping. */
  sweepAs(actor: string): Promise<SweepOutcome | null>;
  now(): Date;
}

const orNull = (text: string | null) => (text === null ? null : checkedDurationMs(text));
const iso = (date: Date | null) => date?.toISOString() ?? null;

function draftOf(body: z.output<typeof policyDraftSchema>): PolicyDraft {
  return {
    name: body.name,
    scope: body.scope,
    maxAgeMs: orNull(body.maxAge),
    deleteAfterFilingMs: orNull(body.deleteAfterFiling),
    allowUnfiledDeletion: body.allowUnfiledDeletion,
    minAgeMs: checkedDurationMs(body.minAge),
    warnBeforeMs: checkedDurationMs(body.warnBefore),
  };
}

export function policyView(policy: RetentionPolicy): RetentionPolicyView {
  const text = (value: number | null) => (value === null ? null : formatDuration(value));
  return {
    id: policy.id,
    name: policy.name,
    scope: policy.scope,
    maxAge: text(policy.maxAgeMs),
    deleteAfterFiling: text(policy.deleteAfterFilingMs),
    allowUnfiledDeletion: policy.allowUnfiledDeletion,
    minAge: formatDuration(policy.minAgeMs),
    warnBefore: formatDuration(policy.warnBeforeMs),
    builtIn: policy.builtIn,
    updatedBy: policy.updatedBy,
    updatedAt: policy.updatedAt.toISOString(),
  };
}

function holdView(hold: LegalHold): LegalHoldView {
  return { roomId: hold.roomId, reason: hold.reason, setBy: hold.setBy, setAt: hold.setAt.toISOString(), expiresAt: iso(hold.expiresAt) };
}

export function roomRetentionView(plan: RoomPlan & { dueEventCount?: number }): RoomRetention {
  return {
    roomId: plan.roomId,
    name: plan.name,
    kind: plan.kind,
    policy: plan.policy ? { id: plan.policy.id, name: plan.policy.name } : null,
    status: plan.status,
    reason: plan.reason,
    deleteUpTo: iso(plan.cutoff),
    dueEvents: plan.dueEventCount ?? 0,
    includesUnfiled: plan.includesUnfiled,
    filingRef: plan.filingRef,
    nextDeletionAt: iso(plan.nextDeletionAt),
    warningDueAt: iso(plan.warning?.dueAt ?? null),
    filedEvents: plan.filedCount,
    unfiledEvents: plan.unfiledCount,
    hold: plan.hold ? holdView(plan.hold) : null,
  };
}

function deletionView(record: PurgeRecord): DeletionRecord {
  return {
    id: record.id,
    roomId: record.roomId,
    policyId: record.policyId,
    policyName: record.policyName,
    from: iso(record.fromTs),
    upTo: record.cutoff.toISOString(),
    events: record.eventCount ?? 0,
    unfiledEvents: record.unfiledCount,
    media: record.media.length,
    mediaDeleted: record.mediaDeleted,
    filingRef: record.filingRef,
    actor: record.actor,
    completedAt: (record.completedAt ?? record.createdAt).toISOString(),
  };
}

function signedIn(session: Session | null): string {
  if (!session) throw new Error("route table guarantees a session here");
  return session.userId;
}

export function retentionHandlers(services: RetentionApiServices): Partial<RouteHandlers> {
  return {
    listRetentionPolicies: async () => ({ policies: (await services.policies.list()).map(policyView) }),
    createRetentionPolicy: async ({ body, session }) => policyView(await services.policies.create(draftOf(body), signedIn(session))),
    updateRetentionPolicy: async ({ params, body, session }) => policyView(await services.policies.update(params.policyId, draftOf(body), signedIn(session))),
    deleteRetentionPolicy: async ({ params, session }) => {
      await services.policies.remove(params.policyId, signedIn(session));
      return {};
    },
    previewRetentionPolicy: async ({ body }) => ({
      generatedAt: services.now().toISOString(),
      rooms: (await services.policies.preview(draftOf(body.policy), body.replacingId ?? null)).map(roomRetentionView),
    }),
    retentionPlan: async () => ({ generatedAt: services.now().toISOString(), rooms: (await services.plan()).map(roomRetentionView) }),
    roomRetention: async ({ params }) => {
      const [plan] = await services.plan([params.roomId]);
      if (!plan) throw new HandoverError("NOT_FOUND", `Handover's bot is not in room ${params.roomId}`);
      return roomRetentionView(plan);
    },
    placeLegalHold: async ({ params, body, session }) =>
      holdView(await services.policies.placeHold(params.roomId, body.reason, body.expiresAt ? new Date(body.expiresAt) : null, signedIn(session))),
    liftLegalHold: async ({ params, session }) => {
      await services.policies.liftHold(params.roomId, signedIn(session));
      return {};
    },
    listLegalHolds: async () => ({ holds: (await services.policies.holds()).map(holdView) }),
    listDeletions: async ({ query }) => ({ deletions: (await services.ledger.completed(query)).map(deletionView) }),
    exportDeletions: async ({ query }) => deletionRecordsCsv(await services.ledger.completed(query)),
    listPurgeProblems: async () => ({
      problems: (await services.ledger.open())
        .filter((record) => record.error !== null)
        .map((record) => ({ deletionId: record.id, roomId: record.roomId, policyName: record.policyName, error: record.error ?? "" })),
    }),
    runRetentionSweep: async ({ session }) => {
      const outcome = await services.sweepAs(signedIn(session));
      if (!outcome) return { ran: false, resumed: 0, warned: 0, deleted: 0, waiting: 0, failed: 0, published: 0 };
      return {
        ran: true,
        resumed: outcome.resumed,
        warned: outcome.warned,
        deleted: outcome.deletions.length,
        waiting: outcome.waiting,
        failed: outcome.failed,
        published: outcome.published,
      };
    },
  };
}
