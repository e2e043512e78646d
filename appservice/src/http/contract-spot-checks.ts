/**
 * Spot checks of staff devices (issue 14): a random sample of people, each person's
 * server-visible posture checked against the trust's policy, and a checklist of what only a
 * person can see on the phone, recorded by the IG lead. The words are the domain's
 * (domain/devices/spot-check.ts): the schemas are built from its lists and checked against its
 * types. Imports only zod and that vocabulary file, which imports nothing.
 */
import { z } from "zod";
import {
  CHECKLIST_ANSWERS,
  type RecordOutcome,
  SPOT_CHECK_OUTCOMES,
  SPOT_CHECK_TRIGGERS,
  type SpotCheck,
  type SpotCheckChecklist,
  type SpotCheckList,
  type SpotCheckPerson,
  type StartSpotCheck,
} from "../domain/devices/spot-check.js";
import type { RouteContract } from "./contract-shared.js";

const READERS = ["admin", "ig-lead", "auditor"] as const;
const CHECKERS = ["admin", "ig-lead"] as const;
const RECORDERS = ["ig-lead"] as const;

export const spotCheckChecklistSchema = z.strictObject({
  screenLock: z.enum(CHECKLIST_ANSWERS).describe("The phone locks with a PIN, password or biometrics."),
  photoLibraryUnlinked: z.enum(CHECKLIST_ANSWERS).describe("The app does not save clinical images to the phone's photo library."),
  lockScreenPreviewsOff: z.enum(CHECKLIST_ANSWERS).describe("Message previews are hidden on the lock screen."),
}) satisfies z.ZodType<SpotCheckChecklist>;

export const spotCheckPersonSchema = z.object({
  userId: z.string(),
  displayName: z.string().nullable(),
  /** What the homeserver shows against the policy (devices not cross-signed, pushers carrying content, stale sessions). */
  findings: z.array(z.string()),
  meetsServerPolicy: z.boolean(),
  checklist: spotCheckChecklistSchema.nullable(),
  outcome: z.enum(SPOT_CHECK_OUTCOMES).nullable(),
  note: z.string().nullable(),
  recordedBy: z.string().nullable(),
  recordedAt: z.iso.datetime().nullable(),
}) satisfies z.ZodType<SpotCheckPerson>;

export const spotCheckSchema = z.object({
  id: z.number().int(),
  trigger: z.enum(SPOT_CHECK_TRIGGERS),
  startedBy: z.string(),
  startedAt: z.iso.datetime(),
  /** How the sample was asked for: a number of people or a share of everyone (of one directory group's people when `group` is set). */
  sample: z.object({ people: z.number().int().nullable(), share: z.number().nullable(), group: z.string().nullable().optional(), outOf: z.number().int() }),
  people: z.array(spotCheckPersonSchema),
  /** People whose outcome is recorded. */
  recorded: z.number().int(),
}) satisfies z.ZodType<SpotCheck>;

export const spotCheckListSchema = z.object({
  spotChecks: z.array(spotCheckSchema.omit({ people: true }).extend({ size: z.number().int() })),
}) satisfies z.ZodType<SpotCheckList>;

export const startSpotCheckSchema = z
  .strictObject({
    people: z.number().int().min(1).max(500).optional().describe("Sample this many people."),
    share: z.number().gt(0).max(1).optional().describe("Or sample this share of everyone (0.05 = 5%)."),
    group: z.string().trim().min(1).max(200).optional().describe("Sample only the people in this directory group (as directory sync knows it)."),
  })
  .refine((body) => (body.people === undefined) !== (body.share === undefined), { message: "give either people or share" }) satisfies z.ZodType<StartSpotCheck>;

export const spotCheckParamsSchema = z.strictObject({ spotCheckId: z.coerce.number().int().positive() });
export const spotCheckPersonParamsSchema = z.strictObject({
  spotCheckId: z.coerce.number().int().positive(),
  userId: z.string().regex(/^@[^\s:]+:\S+$/, { message: "expected a Matrix user ID like @alice:trust.example" }),
});

export const recordOutcomeSchema = z.strictObject({
  checklist: spotCheckChecklistSchema,
  outcome: z.enum(SPOT_CHECK_OUTCOMES),
  note: z.string().trim().max(1000).optional(),
}) satisfies z.ZodType<RecordOutcome>;

export const spotCheckPdfSchema = z.object({
  filename: z.string(),
  contentType: z.literal("application/pdf"),
  data: z.string().describe("The PDF, base64."),
});
export type SpotCheckPdf = z.infer<typeof spotCheckPdfSchema>;

export const SPOT_CHECKS_API = {
  listSpotChecks: { method: "get", path: "/devices/spot-checks", summary: "Spot checks, newest first", access: READERS, response: spotCheckListSchema },
  startSpotCheck: {
    method: "post",
    path: "/devices/spot-checks",
    summary: "Start a spot check on a random sample of people (audited)",
    access: CHECKERS,
    body: startSpotCheckSchema,
    response: spotCheckSchema,
    status: 201,
  },
  getSpotCheck: {
    method: "get",
    path: "/devices/spot-checks/:spotCheckId",
    summary: "One spot check with each person's findings and outcome",
    access: READERS,
    params: spotCheckParamsSchema,
    response: spotCheckSchema,
  },
  recordSpotCheckOutcome: {
    method: "put",
    path: "/devices/spot-checks/:spotCheckId/people/:userId",
    summary: "Record the checklist and outcome for one person (IG lead; audited)",
    access: RECORDERS,
    params: spotCheckPersonParamsSchema,
    body: recordOutcomeSchema,
    response: spotCheckSchema,
  },
  exportSpotCheckCsv: {
    method: "get",
    path: "/devices/spot-checks/:spotCheckId/csv",
    summary: "The spot check as CSV (audited)",
    access: READERS,
    params: spotCheckParamsSchema,
    response: z.string(),
    produces: "text/csv",
  },
  exportSpotCheckPdf: {
    method: "get",
    path: "/devices/spot-checks/:spotCheckId/pdf",
    summary: "The spot check as a PDF report (audited)",
    access: READERS,
    params: spotCheckParamsSchema,
    response: spotCheckPdfSchema,
  },
} as const satisfies Record<string, RouteContract>;
