/**
 * The retention part of the admin API contract (issue 3): policies, room retention status (the
 * dry run), legal holds and deletion records. Imports nothing but zod, contract-shared.ts and
 * the domain's vocabulary files, which import nothing.
 */
import { z } from "zod";
import { PLAN_STATUSES } from "../domain/retention/plan-status.js";
import { emptySchema, type RouteContract, roomIdParamsSchema, roomKindSchema } from "./contract-shared.js";

const matrixRoomId = z.string().regex(/^![^\s]+$/, { message: "expected a Matrix room ID like !abc:server" });

export const durationTextSchema = z
  .string()
  .trim()
  .regex(/^\d+(ms|s|m|h|d|w)$/, { message: "expected a duration such as 30d, 24h, 15m or 90s" });

export const policyScopeSchema = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("kind"), kind: roomKindSchema }),
  z.strictObject({ type: z.literal("space"), spaceId: matrixRoomId.describe("The space's room ID.") }),
  z.strictObject({ type: z.literal("room"), roomId: matrixRoomId }),
]);
export type PolicyScopeInput = z.infer<typeof policyScopeSchema>;

export const policyDraftSchema = z.strictObject({
  name: z.string().trim().min(1, { message: "Enter a name for the policy" }).max(100),
  scope: policyScopeSchema.describe("Where it applies: most specific wins (room, then space, then room kind)."),
  maxAge: durationTextSchema.nullable().describe("Messages older than this are deleted; null for no age limit."),
  deleteAfterFiling: durationTextSchema.nullable().describe("Filed content is deleted this long after filing; null if filing does not trigger deletion."),
  allowUnfiledDeletion: z.boolean().default(false).describe("Clinical rooms: may unfiled content be deleted at the maximum age (after a warning)?"),
  minAge: durationTextSchema.default("0s").describe("Nothing younger than this is deleted."),
  warnBefore: durationTextSchema.default("3d").describe("How far ahead the room is warned before unfiled content is deleted."),
});
export type PolicyDraftInput = z.input<typeof policyDraftSchema>;

export const retentionPolicySchema = z.object({
  id: z.string(),
  name: z.string(),
  scope: policyScopeSchema,
  maxAge: z.string().nullable(),
  deleteAfterFiling: z.string().nullable(),
  allowUnfiledDeletion: z.boolean(),
  minAge: z.string(),
  warnBefore: z.string(),
  builtIn: z.boolean().describe("A shipped default from the configuration; override it with a policy for the room kind."),
  updatedBy: z.string(),
  updatedAt: z.iso.datetime(),
});
export type RetentionPolicyView = z.infer<typeof retentionPolicySchema>;

export const policyListSchema = z.object({ policies: z.array(retentionPolicySchema) });
export type PolicyList = z.infer<typeof policyListSchema>;

export const policyIdParamsSchema = z.strictObject({ policyId: z.string().min(1).max(100) });

export const legalHoldSchema = z.object({
  roomId: z.string(),
  reason: z.string(),
  setBy: z.string(),
  setAt: z.iso.datetime(),
  expiresAt: z.iso.datetime().nullable(),
});
export type LegalHoldView = z.infer<typeof legalHoldSchema>;

export const legalHoldListSchema = z.object({ holds: z.array(legalHoldSchema) });
export type LegalHoldList = z.infer<typeof legalHoldListSchema>;

export const placeHoldRequestSchema = z.strictObject({
  reason: z.string().trim().min(1, { message: "Enter the reason for the hold" }).max(500),
  expiresAt: z.iso.datetime({ offset: true }).nullable().optional().describe("When the hold ends by itself; null or absent: until lifted."),
});
export type PlaceHoldRequest = z.infer<typeof placeHoldRequestSchema>;

export const roomRetentionSchema = z.object({
  roomId: z.string(),
  name: z.string().nullable(),
  kind: roomKindSchema.nullable(),
  policy: z.object({ id: z.string(), name: z.string() }).nullable(),
  status: z.enum(PLAN_STATUSES),
  reason: z.string(),
  deleteUpTo: z.iso.datetime().nullable().describe("When due: messages sent up to this time would be deleted by the next sweep."),
  dueEvents: z.number().int().describe("Messages Handover has seen that the next sweep would delete."),
  includesUnfiled: z.boolean(),
  filingRef: z.string().nullable(),
  nextDeletionAt: z.iso.datetime().nullable(),
  warningDueAt: z.iso.datetime().nullable().describe("A warning about unfiled content the next sweep would post, with its deletion date."),
  filedEvents: z.number().int(),
  unfiledEvents: z.number().int(),
  hold: legalHoldSchema.nullable(),
});
export type RoomRetention = z.infer<typeof roomRetentionSchema>;

export const retentionPlanSchema = z.object({ generatedAt: z.iso.datetime(), rooms: z.array(roomRetentionSchema) });
export type RetentionPlan = z.infer<typeof retentionPlanSchema>;

export const policyPreviewRequestSchema = z.strictObject({
  policy: policyDraftSchema,
  replacingId: z.string().max(100).nullable().optional().describe("When editing: the policy the draft would replace."),
});
export type PolicyPreviewRequest = z.input<typeof policyPreviewRequestSchema>;

export const deletionRecordSchema = z.object({
  id: z.string(),
  roomId: z.string(),
  policyId: z.string(),
  policyName: z.string(),
  from: z.iso.datetime().nullable(),
  upTo: z.iso.datetime(),
  events: z.number().int(),
  unfiledEvents: z.number().int(),
  media: z.number().int(),
  mediaDeleted: z.number().int(),
  filingRef: z.string().nullable(),
  actor: z.string(),
  completedAt: z.iso.datetime(),
});
export type DeletionRecord = z.infer<typeof deletionRecordSchema>;

export const deletionQuerySchema = z.strictObject({
  roomId: matrixRoomId.optional(),
  limit: z.coerce.number().int().min(1).max(5000).default(200),
});
export type DeletionQuery = z.input<typeof deletionQuerySchema>;

export const deletionListSchema = z.object({ deletions: z.array(deletionRecordSchema) });
export type DeletionList = z.infer<typeof deletionListSchema>;

export const sweepResultSchema = z.object({
  ran: z.boolean().describe("False when another Handover process is sweeping right now."),
  resumed: z.number().int(),
  warned: z.number().int(),
  deleted: z.number().int(),
  waiting: z.number().int(),
  failed: z.number().int().describe("Purges that failed this time; they stay open (see /retention/purge-problems) and the other rooms went on."),
  published: z.number().int(),
});
export type SweepResult = z.infer<typeof sweepResultSchema>;

export const purgeProblemSchema = z.object({
  deletionId: z.string(),
  roomId: z.string(),
  policyName: z.string(),
  error: z.string().describe("Why the last attempt failed; every sweep tries again."),
});
export type PurgeProblem = z.infer<typeof purgeProblemSchema>;

export const purgeProblemListSchema = z.object({ problems: z.array(purgeProblemSchema) });
export type PurgeProblemList = z.infer<typeof purgeProblemListSchema>;

const MANAGERS = ["admin", "ig-lead"] as const;

export const RETENTION_API = {
  listRetentionPolicies: {
    method: "get",
    path: "/retention/policies",
    summary: "Retention policies, the shipped defaults first",
    access: "session",
    response: policyListSchema,
  },
  createRetentionPolicy: {
    method: "post",
    path: "/retention/policies",
    summary: "Create a retention policy",
    access: MANAGERS,
    body: policyDraftSchema,
    response: retentionPolicySchema,
    status: 201,
  },
  previewRetentionPolicy: {
    method: "post",
    path: "/retention/policies/preview",
    summary: "The rooms a draft policy would govern and what it would delete now (changes nothing)",
    access: "session",
    body: policyPreviewRequestSchema,
    response: retentionPlanSchema,
  },
  updateRetentionPolicy: {
    method: "put",
    path: "/retention/policies/:policyId",
    summary: "Change a retention policy",
    access: MANAGERS,
    params: policyIdParamsSchema,
    body: policyDraftSchema,
    response: retentionPolicySchema,
  },
  deleteRetentionPolicy: {
    method: "delete",
    path: "/retention/policies/:policyId",
    summary: "Delete a retention policy",
    access: MANAGERS,
    params: policyIdParamsSchema,
    response: emptySchema,
  },
  retentionPlan: {
    method: "get",
    path: "/retention/rooms",
    summary: "Dry run: per room, what the next sweep would delete, when and why",
    access: "session",
    response: retentionPlanSchema,
  },
  roomRetention: {
    method: "get",
    path: "/retention/rooms/:roomId",
    summary: "Retention status of one room",
    access: "session",
    params: roomIdParamsSchema,
    response: roomRetentionSchema,
  },
  placeLegalHold: {
    method: "put",
    path: "/retention/rooms/:roomId/hold",
    summary: "Place (or change) a legal hold: nothing in the room is deleted while it lasts",
    access: MANAGERS,
    params: roomIdParamsSchema,
    body: placeHoldRequestSchema,
    response: legalHoldSchema,
  },
  liftLegalHold: {
    method: "delete",
    path: "/retention/rooms/:roomId/hold",
    summary: "Lift a room's legal hold",
    access: MANAGERS,
    params: roomIdParamsSchema,
    response: emptySchema,
  },
  listLegalHolds: { method: "get", path: "/retention/holds", summary: "Active legal holds", access: "session", response: legalHoldListSchema },
  listDeletions: {
    method: "get",
    path: "/retention/deletions",
    summary: "Deletion records (evidence), newest first",
    access: "session",
    query: deletionQuerySchema,
    response: deletionListSchema,
  },
  exportDeletions: {
    method: "get",
    path: "/retention/deletions/csv",
    summary: "Deletion records as CSV",
    access: "session",
    query: deletionQuerySchema,
    response: z.string(),
    produces: "text/csv",
  },
  listPurgeProblems: {
    method: "get",
    path: "/retention/purge-problems",
    summary: "Deletions that could not finish (e.g. the bot was removed from the room), with the last error",
    access: "session",
    response: purgeProblemListSchema,
  },
  runRetentionSweep: {
    method: "post",
    path: "/retention/sweep",
    summary: "Run a retention sweep now, as the signed-in person",
    access: MANAGERS,
    response: sweepResultSchema,
  },
} as const satisfies Record<string, RouteContract>;
