/**
 * Directory sync's part of the admin API contract (issue 4): sources, rules, runs, held runs,
 * and "why is this person in this room". Imports nothing but zod and the shared vocabulary.
 */
import { z } from "zod";
import type { RouteContract } from "./contract-shared.js";

const matrixRoomId = z.string().regex(/^![^\s:]+:\S+$/, { message: "expected a Matrix room ID like !abc:server" });

export const directoryPowerRuleSchema = z.strictObject({
  attribute: z.string().min(1).max(100).optional().describe("Directory attribute (e.g. title)."),
  equals: z.string().max(200).optional().describe("Value the attribute must have (case-insensitive)."),
  group: z.string().min(1).max(200).optional().describe("Directory group (nested membership counts)."),
  level: z.number().int().min(0).max(99).describe("Power level in the rule's rooms (50 = moderator). 100 is kept for room admins."),
});

export const directoryRuleSchema = z
  .strictObject({
    id: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, { message: "expected a lower-case id like ward-7-nursing" }),
    description: z.string().max(500).default(""),
    group: z.string().min(1).max(200).nullable().describe("Directory group whose members belong in the rooms."),
    attribute: z.strictObject({ name: z.string().min(1).max(100), equals: z.string().min(1).max(200) }).nullable(),
    rooms: z.array(matrixRoomId).min(1).max(50),
    joinMode: z.enum(["invite", "force-join"]).default("invite"),
    power: z.array(directoryPowerRuleSchema).max(20).default([]),
    enabled: z.boolean().default(true),
  })
  .refine((rule) => rule.group !== null || rule.attribute !== null, { message: "a rule needs a group, an attribute filter or both", path: ["group"] });
export type DirectoryRule = z.infer<typeof directoryRuleSchema>;
export type DirectoryRuleInput = z.input<typeof directoryRuleSchema>;

export const directoryRuleListSchema = z.object({ rules: z.array(directoryRuleSchema) });
export type DirectoryRuleList = z.infer<typeof directoryRuleListSchema>;

export const csvLastImportSchema = z.object({ at: z.iso.datetime(), via: z.enum(["upload", "watch"]), people: z.number().int(), groups: z.number().int() });
export const directorySourceSchema = z.object({
  name: z.string(),
  kind: z.enum(["ldap", "scim", "csv"]),
  /** CSV sources: the watched file (null: upload only) and the last import. */
  watching: z.string().nullable().optional(),
  lastImport: csvLastImportSchema.nullable().optional(),
  /** Incremental LDAP sources: the last read. */
  lastRead: z
    .object({ kind: z.enum(["full", "incremental"]), reason: z.string().nullable(), changed: z.number().int(), at: z.iso.datetime() })
    .nullable()
    .optional(),
});
export const directoryStatusSchema = z.object({
  configured: z.boolean(),
  sources: z.array(directorySourceSchema),
  schedule: z.string().nullable(),
  maxRemovalShare: z.number(),
  maxRemovals: z.number().int(),
  heldRunId: z.number().int().nullable(),
});
export type DirectoryStatus = z.infer<typeof directoryStatusSchema>;

export const sourceTestSchema = z.object({ ok: z.boolean(), message: z.string() });
export type SourceTest = z.infer<typeof sourceTestSchema>;

export const RUN_STATUSES = ["held", "applying", "applied", "partial", "rejected", "refused", "interrupted", "superseded", "noop", "dry-run"] as const;
export const ACTION_KINDS = ["take-room", "invite", "force-join", "kick", "set-power", "end-sessions", "lock", "deactivate"] as const;

export const directoryActionSchema = z.object({
  kind: z.enum(ACTION_KINDS),
  roomId: z.string().nullable(),
  userId: z.string().nullable(),
  why: z.string().nullable(),
  rules: z.array(z.string()),
  sources: z.array(z.string()),
  changes: z.array(z.object({ userId: z.string(), from: z.number(), to: z.number() })),
  outcome: z.enum(["done", "failed"]).nullable(),
  error: z.string().nullable(),
});
export type DirectoryAction = z.infer<typeof directoryActionSchema>;

export const runSummarySchema = z.object({
  people: z.number().int(),
  rooms: z.number().int(),
  managedMemberships: z.number().int(),
  removals: z.number().int(),
  additions: z.number().int(),
  powerChanges: z.number().int(),
  leaverSteps: z.number().int(),
  unreadableRooms: z.array(z.string()),
  unmapped: z.number().int(),
  applied: z.number().int(),
  failed: z.number().int(),
});

export const directoryRunSchema = z.object({
  id: z.number().int().nullable(),
  trigger: z.string(),
  actor: z.string(),
  status: z.enum(RUN_STATUSES),
  startedAt: z.iso.datetime().nullable(),
  finishedAt: z.iso.datetime().nullable(),
  reason: z.string().nullable(),
  decidedBy: z.string().nullable(),
  summary: runSummarySchema,
});
export type DirectoryRun = z.infer<typeof directoryRunSchema>;

export const directoryRunDetailSchema = directoryRunSchema.extend({
  actions: z.array(directoryActionSchema),
  actionsShown: z.number().int(),
  actionsTotal: z.number().int(),
});
export type DirectoryRunDetail = z.infer<typeof directoryRunDetailSchema>;

export const directoryRunListSchema = z.object({ runs: z.array(directoryRunSchema) });
export type DirectoryRunList = z.infer<typeof directoryRunListSchema>;

export const runRequestSchema = z.strictObject({ dryRun: z.boolean().default(false) });
export const previewRequestSchema = z.strictObject({
  rule: directoryRuleSchema.optional().describe("A draft rule to preview in place of the stored rule with its id."),
});
export type PreviewRequest = z.input<typeof previewRequestSchema>;
export const rejectRequestSchema = z.strictObject({ reason: z.string().min(1).max(500) });
export type RejectRequest = z.infer<typeof rejectRequestSchema>;
export const createRuleRoomRequestSchema = z.strictObject({ name: z.string().min(1).max(200) });

export const runIdParamsSchema = z.strictObject({ runId: z.coerce.number().int().positive() });
export const ruleIdParamsSchema = z.strictObject({ ruleId: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/) });
export const sourceParamsSchema = z.strictObject({ source: z.string().min(1).max(40) });
export const personParamsSchema = z.strictObject({ userId: z.string().regex(/^@[^:\s]+:\S+$/, { message: "expected a Matrix user ID" }) });

export const personExplanationSchema = z.object({
  userId: z.string(),
  inDirectory: z.boolean(),
  disabled: z.boolean(),
  source: z.string().nullable(),
  groups: z.array(z.string()),
  rooms: z.array(z.object({ roomId: z.string(), level: z.number().int(), rules: z.array(z.string()), sources: z.array(z.string()) })),
});
export type PersonExplanation = z.infer<typeof personExplanationSchema>;

export const csvImportRequestSchema = z.strictObject({
  csv: z
    .string()
    .max(900_000, { message: "the file is too large to upload (about 900 kB at most); use a watched file instead" })
    .describe("The CSV file's text."),
  dryRun: z.boolean().default(false).describe("Only show what importing it would change."),
});
export type CsvImportRequest = z.input<typeof csvImportRequestSchema>;
export const csvImportResultSchema = z.object({
  import: z.object({
    source: z.string(),
    rows: z.number().int(),
    people: z.number().int(),
    groups: z.number().int(),
    leavers: z.number().int(),
    notStarted: z.number().int(),
    stored: z.boolean(),
  }),
  run: directoryRunDetailSchema,
});
export type CsvImportResult = z.infer<typeof csvImportResultSchema>;

export const DIRECTORY_API = {
  directoryStatus: { method: "get", path: "/directory", summary: "Directory sync: sources and limits", access: "session", response: directoryStatusSchema },
  testDirectorySource: {
    method: "post",
    path: "/directory/sources/:source/test",
    summary: "Check a directory source can be reached",
    access: ["admin"],
    params: sourceParamsSchema,
    response: sourceTestSchema,
  },
  importDirectoryCsv: {
    method: "post",
    path: "/directory/sources/:source/csv",
    summary: "Import an ESR-style CSV file into a CSV source and run sync (or preview it with dryRun)",
    access: ["admin"],
    params: sourceParamsSchema,
    body: csvImportRequestSchema,
    response: csvImportResultSchema,
  },
  listDirectoryRules: {
    method: "get",
    path: "/directory/rules",
    summary: "Rules from directory groups to rooms",
    access: "session",
    response: directoryRuleListSchema,
  },
  putDirectoryRule: {
    method: "put",
    path: "/directory/rules/:ruleId",
    summary: "Create or change a rule",
    access: ["admin"],
    params: ruleIdParamsSchema,
    body: directoryRuleSchema,
    response: directoryRuleSchema,
  },
  deleteDirectoryRule: {
    method: "delete",
    path: "/directory/rules/:ruleId",
    summary: "Delete a rule (its rooms stop being managed)",
    access: ["admin"],
    params: ruleIdParamsSchema,
    response: z.strictObject({}),
  },
  createDirectoryRuleRoom: {
    method: "post",
    path: "/directory/rules/:ruleId/rooms",
    summary: "Create a room for a rule (Handover's bot creates it and the rule names it)",
    access: ["admin"],
    params: ruleIdParamsSchema,
    body: createRuleRoomRequestSchema,
    response: directoryRuleSchema,
    status: 201,
  },
  previewDirectorySync: {
    method: "post",
    path: "/directory/preview",
    summary: "Dry run: what a sync would change now, optionally with a draft rule",
    access: ["admin", "ig-lead"],
    body: previewRequestSchema,
    response: directoryRunDetailSchema,
  },
  runDirectorySync: {
    method: "post",
    path: "/directory/runs",
    summary: "Run directory sync now (or a dry run)",
    access: ["admin"],
    body: runRequestSchema,
    response: directoryRunDetailSchema,
  },
  listDirectoryRuns: { method: "get", path: "/directory/runs", summary: "Recent sync runs, newest first", access: "session", response: directoryRunListSchema },
  getDirectoryRun: {
    method: "get",
    path: "/directory/runs/:runId",
    summary: "One run with its changes",
    access: "session",
    params: runIdParamsSchema,
    response: directoryRunDetailSchema,
  },
  approveDirectoryRun: {
    method: "post",
    path: "/directory/runs/:runId/approval",
    summary: "Approve a held run: it is applied",
    access: ["admin"],
    params: runIdParamsSchema,
    response: directoryRunDetailSchema,
  },
  rejectDirectoryRun: {
    method: "post",
    path: "/directory/runs/:runId/rejection",
    summary: "Reject a held run",
    access: ["admin"],
    params: runIdParamsSchema,
    body: rejectRequestSchema,
    response: directoryRunSchema,
  },
  explainDirectoryPerson: {
    method: "get",
    path: "/directory/people/:userId",
    summary: "Why a person is in the rooms they are in",
    access: "session",
    params: personParamsSchema,
    response: personExplanationSchema,
  },
} as const satisfies Record<string, RouteContract>;
