/**
 * The admin API's contract: request and response schemas and the route table. The server
 * validates with these schemas, the OpenAPI document is generated from them, and the portal
 * imports the inferred types, so every payload has exactly one definition.
 * The words (roles, room kinds, error codes, sessions, audit pages, ...) are the domain's: the
 * schemas are built from its lists and checked against its types. This module imports only zod
 * and those vocabulary files, which import nothing: the portal bundles it.
 */
import { z } from "zod";
import type { RoleFrom } from "../domain/access/roles.js";
import type { Session } from "../domain/access/session.js";
import type { AuditEntry, AuditPage, AuditVerification } from "../domain/audit/audit-page.js";
import { DEVICES_API } from "./contract-devices.js";
import { DIRECTORY_API } from "./contract-directory.js";
import { FEDERATION_API } from "./contract-federation.js";
import { RECORDS_API } from "./contract-records.js";
import { RETENTION_API } from "./contract-retention.js";
import { emptySchema, type RouteContract, roleSchema, roomIdParamsSchema, roomKindSchema } from "./contract-shared.js";
import { SPOT_CHECKS_API } from "./contract-spot-checks.js";

// The domain's words, as the portal and the API's clients see them (each file named here
// imports nothing).
export { ROLES, type Role, type RoleFrom } from "../domain/access/roles.js";
export type { Session } from "../domain/access/session.js";
export type { AuditEntry, AuditPage, AuditVerification } from "../domain/audit/audit-page.js";
export {
  type DeviceView,
  DIRECTORY_STANDINGS,
  type PersonDevices,
  type PusherView,
  type SignOutResult,
  STALE_SWEEP_STATUSES,
  type StaleSweep,
} from "../domain/devices/person-devices.js";
export { type HomeserverPushContent, POSTURE_METRIC_NAMES, type Posture, type PostureMetric } from "../domain/devices/posture-metrics.js";
export {
  CHECKLIST_ANSWERS,
  type RecordOutcome,
  SPOT_CHECK_OUTCOMES,
  type SpotCheck,
  type SpotCheckChecklist,
  type SpotCheckList,
  type SpotCheckPerson,
  type StartSpotCheck,
} from "../domain/devices/spot-check.js";
export { ERROR_CODES, type ErrorCode } from "../domain/errors.js";
export {
  AGREEMENT_ACTIONS,
  AGREEMENT_STATUSES,
  type AgreementScope,
  type AgreementStatus,
  type AgreementTerms,
  type Organisation,
} from "../domain/federation/agreement-terms.js";
export { FILING_STATUSES, type FilingStatus } from "../domain/records/filing-status.js";
export { PLAN_STATUSES } from "../domain/retention/plan-status.js";
export { ROOM_KINDS, type RoomKind } from "../domain/rooms/room-kind.js";
export type {
  DeviceActionRequest,
  DevicePeople,
  DevicePeopleQuery,
  StaleSweepList,
  StaleSweepRequest,
} from "./contract-devices.js";
export {
  ACTION_KINDS,
  type CsvImportRequest,
  type CsvImportResult,
  type DirectoryAction,
  type DirectoryRule,
  type DirectoryRuleInput,
  type DirectoryRuleList,
  type DirectoryRun,
  type DirectoryRunDetail,
  type DirectoryRunList,
  type DirectoryStatus,
  directoryRuleSchema,
  type PersonExplanation,
  type PreviewRequest,
  type RejectRequest,
  RUN_STATUSES,
  type SourceTest,
} from "./contract-directory.js";
export {
  type Agreement,
  type AgreementActionRequest,
  type AgreementDetail,
  type AgreementList,
  type AgreementMessage,
  type EnforcementHealth,
  type ExpectedPartners,
  type OurOrganisation,
  type ProposeAgreementRequest,
  proposeAgreementRequestSchema,
  type WhitelistSnippet,
} from "./contract-federation.js";
export {
  type FiledPdf,
  type FilingList,
  type FilingReceiptSummary,
  type FilingSummary,
  type LinkPatient,
  type LinkPatientResult,
  linkPatientSchema,
  PATIENT_LOOKUPS,
  type PatientLinkList,
  type PatientLinkSummary,
  type PatientLookupList,
  type PatientSummary,
  type RequestFiling,
  requestFilingSchema,
  type SearchPatientLookups,
} from "./contract-records.js";
export type {
  DeletionList,
  DeletionQuery,
  DeletionRecord,
  LegalHoldList,
  LegalHoldView,
  PlaceHoldRequest,
  PolicyDraftInput,
  PolicyList,
  PolicyPreviewRequest,
  PolicyScopeInput,
  PurgeProblem,
  RetentionPlan,
  RetentionPolicyView,
  RoomRetention,
  SweepResult,
} from "./contract-retention.js";
export {
  type ErrorResponse,
  emptySchema,
  errorCodeSchema,
  errorResponseSchema,
  type RouteContract,
  roleSchema,
  roomIdParamsSchema,
  roomKindSchema,
} from "./contract-shared.js";
export type { SpotCheckPdf } from "./contract-spot-checks.js";

export const signInRequestSchema = z.strictObject({
  username: z.string().min(1).max(255).describe("Matrix user ID or localpart on this trust's homeserver."),
  password: z.string().min(1).max(1024),
});
export type SignInRequest = z.infer<typeof signInRequestSchema>;

export const roleFromSchema = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("config") }).describe("access.roles in Handover's config"),
  z.object({ kind: z.literal("group"), group: z.string(), source: z.string() }).describe("a directory group in access.roleGroups"),
]) satisfies z.ZodType<RoleFrom>;

export const sessionSchema = z.object({
  userId: z.string(),
  role: roleSchema,
  /** Where the role comes from now (it is looked up on every request). */
  roleFrom: roleFromSchema,
  expiresAt: z.iso.datetime(),
}) satisfies z.ZodType<Session>;

export const signInFlowsSchema = z.object({
  /** Whether the homeserver takes passwords (`m.login.password`): the portal shows the form only then. */
  password: z.boolean(),
  /** Single sign-on through the homeserver (`m.login.sso`); null when it offers none. */
  sso: z
    .object({
      identityProviders: z.array(
        z.object({
          id: z.string(),
          name: z.string(),
          startUrl: z.string(),
          /** The provider's icon, served by Handover from the homeserver's media; null when it names none. */
          iconUrl: z.string().nullable(),
        }),
      ),
      /** Starts sign-in at the homeserver's default (or only) identity provider. */
      startUrl: z.string(),
    })
    .nullable(),
});
export type SignInFlows = z.infer<typeof signInFlowsSchema>;

export const portalSessionListSchema = z.object({
  sessions: z.array(
    z.object({
      userId: z.string(),
      role: roleSchema,
      roleFrom: roleFromSchema,
      signedInAt: z.iso.datetime(),
      expiresAt: z.iso.datetime(),
    }),
  ),
});
export type PortalSessionList = z.infer<typeof portalSessionListSchema>;

export const overviewSchema = z.object({
  trust: z.object({ serverName: z.string(), botUserId: z.string() }),
  homeserver: z.object({ reachable: z.boolean(), versions: z.array(z.string()) }),
  appservice: z.object({ registered: z.boolean(), lastTransactionAt: z.iso.datetime().nullable() }),
  rooms: z.object({ clinical: z.number().int(), operational: z.number().int(), unclassified: z.number().int() }),
  /** The bot's encryption device; null when the `e2ee` section is not configured (encrypted rooms refused). */
  encryption: z
    .object({
      working: z.boolean(),
      problem: z.string().nullable(),
      deviceId: z.string().nullable(),
      reopened: z.boolean(),
      roomKeys: z.number().int(),
      /** Whether Synapse has Handover's device-inbox module; null until first asked. */
      inboxModule: z.boolean().nullable(),
    })
    .nullable(),
});
export type Overview = z.infer<typeof overviewSchema>;

export const roomSummarySchema = z.object({
  roomId: z.string(),
  name: z.string().nullable(),
  kind: roomKindSchema.nullable(),
  encrypted: z.boolean(),
  botJoined: z.boolean(),
  classifiedBy: z.string().nullable(),
  classifiedAt: z.iso.datetime().nullable(),
});
export type RoomSummary = z.infer<typeof roomSummarySchema>;

export const roomListSchema = z.object({ rooms: z.array(roomSummarySchema) });
export type RoomList = z.infer<typeof roomListSchema>;

export const classifyRoomRequestSchema = z.strictObject({ kind: roomKindSchema });
export type ClassifyRoomRequest = z.infer<typeof classifyRoomRequestSchema>;

export const auditEntrySchema = z.object({
  seq: z.number().int(),
  at: z.iso.datetime(),
  actor: z.string(),
  action: z.string(),
  target: z.string(),
  details: z.record(z.string(), z.unknown()),
  hash: z.string(),
}) satisfies z.ZodType<AuditEntry>;

export const auditQuerySchema = z.strictObject({
  limit: z.coerce.number().int().min(1).max(500).default(50),
  before: z.coerce.number().int().positive().optional().describe("Only entries with seq below this (paging)."),
  action: z.string().max(100).optional(),
  actor: z.string().max(255).optional(),
});
export type AuditQuery = z.input<typeof auditQuerySchema>;

export const auditPageSchema = z.object({
  entries: z.array(auditEntrySchema),
  nextBefore: z.number().int().nullable(),
}) satisfies z.ZodType<AuditPage>;

export const auditVerificationSchema = z.object({
  ok: z.boolean(),
  checked: z.number().int(),
  problems: z.array(z.object({ seq: z.number().int(), problem: z.string() })),
}) satisfies z.ZodType<AuditVerification>;

/** The core's routes. */
export const CORE_API = {
  signIn: {
    method: "post",
    path: "/session",
    summary: "Sign in with a Matrix account on this trust's homeserver",
    access: "public",
    body: signInRequestSchema,
    response: sessionSchema,
    status: 201,
  },
  signInFlows: {
    method: "get",
    path: "/session/flows",
    summary: "How people can sign in: the homeserver's login flows",
    access: "public",
    response: signInFlowsSchema,
  },
  currentSession: { method: "get", path: "/session", summary: "The signed-in person and role", access: "session", response: sessionSchema },
  signOut: { method: "delete", path: "/session", summary: "Sign out", access: "session", response: emptySchema },
  listPortalSessions: {
    method: "get",
    path: "/portal-sessions",
    summary: "Who is signed in to the portal, with each role as it stands now and where it comes from",
    access: ["admin"],
    response: portalSessionListSchema,
  },
  overview: { method: "get", path: "/overview", summary: "Health of this trust's Handover", access: "session", response: overviewSchema },
  listRooms: { method: "get", path: "/rooms", summary: "Rooms the bot knows, with their kind", access: "session", response: roomListSchema },
  getRoom: {
    method: "get",
    path: "/rooms/:roomId",
    summary: "One room the bot knows",
    access: "session",
    params: roomIdParamsSchema,
    response: roomSummarySchema,
  },
  classifyRoom: {
    method: "put",
    path: "/rooms/:roomId/classification",
    summary: "Set a room's kind (clinical or operational)",
    access: ["admin", "ig-lead"],
    params: roomIdParamsSchema,
    body: classifyRoomRequestSchema,
    response: roomSummarySchema,
  },
  listAudit: { method: "get", path: "/audit", summary: "Audit trail, newest first", access: "session", query: auditQuerySchema, response: auditPageSchema },
  verifyAudit: {
    method: "get",
    path: "/audit/verification",
    summary: "Check the audit trail's hash chain",
    access: "session",
    response: auditVerificationSchema,
  },
} as const satisfies Record<string, RouteContract>;

/**
 * The route table: one row per endpoint under /api/v1. Each capability keeps its schemas and
 * routes in its own contract-<capability>.ts and adds its table here.
 */
export const API = {
  ...CORE_API,
  ...DIRECTORY_API,
  ...FEDERATION_API,
  ...RETENTION_API,
  ...RECORDS_API,
  ...DEVICES_API,
  ...SPOT_CHECKS_API,
} as const satisfies Record<string, RouteContract>;

export const API_PREFIX = "/api/v1";
