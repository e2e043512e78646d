/**
 * The admin API's contract: request and response schemas and the route table. The server
 * validates with these schemas, the OpenAPI document is generated from them, and the portal
 * imports the inferred types, so every payload has exactly one definition.
 * This module imports nothing but zod: the portal bundles it.
 */
import { z } from "zod";

export const ROLES = ["admin", "ig-lead", "auditor"] as const;
export const roleSchema = z.enum(ROLES);
export type Role = z.infer<typeof roleSchema>;

export const ROOM_KINDS = ["clinical", "operational"] as const;
export const roomKindSchema = z.enum(ROOM_KINDS);
export type RoomKind = z.infer<typeof roomKindSchema>;

export const ERROR_CODES = [
  "VALIDATION_FAILED",
  "UNAUTHENTICATED",
  "SIGN_IN_FAILED",
  "NO_ROLE",
  "FORBIDDEN",
  "NOT_FOUND",
  "CONFLICT",
  "HOMESERVER_UNAVAILABLE",
  "HOMESERVER_REFUSED",
  "INTERNAL",
] as const;
export const errorCodeSchema = z.enum(ERROR_CODES);
export type ErrorCode = z.infer<typeof errorCodeSchema>;

export const errorResponseSchema = z.object({
  error: z.object({
    code: errorCodeSchema,
    message: z.string(),
    details: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  }),
});
export type ErrorResponse = z.infer<typeof errorResponseSchema>;

export const signInRequestSchema = z.strictObject({
  username: z.string().min(1).max(255).describe("Matrix user ID or localpart on this trust's homeserver."),
  password: z.string().min(1).max(1024),
});
export type SignInRequest = z.infer<typeof signInRequestSchema>;

export const sessionSchema = z.object({
  userId: z.string(),
  role: roleSchema,
  expiresAt: z.iso.datetime(),
});
export type Session = z.infer<typeof sessionSchema>;

export const overviewSchema = z.object({
  trust: z.object({ serverName: z.string(), botUserId: z.string() }),
  homeserver: z.object({ reachable: z.boolean(), versions: z.array(z.string()) }),
  appservice: z.object({ registered: z.boolean(), lastTransactionAt: z.iso.datetime().nullable() }),
  rooms: z.object({ clinical: z.number().int(), operational: z.number().int(), unclassified: z.number().int() }),
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

export const roomIdParamsSchema = z.strictObject({
  roomId: z.string().regex(/^![^\s]+$/, { message: "expected a Matrix room ID like !abc:server" }),
});

export const auditEntrySchema = z.object({
  seq: z.number().int(),
  at: z.iso.datetime(),
  actor: z.string(),
  action: z.string(),
  target: z.string(),
  details: z.record(z.string(), z.unknown()),
  hash: z.string(),
});
export type AuditEntry = z.infer<typeof auditEntrySchema>;

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
});
export type AuditPage = z.infer<typeof auditPageSchema>;

export const auditVerificationSchema = z.object({
  ok: z.boolean(),
  checked: z.number().int(),
  problems: z.array(z.object({ seq: z.number().int(), problem: z.string() })),
});
export type AuditVerification = z.infer<typeof auditVerificationSchema>;

export const emptySchema = z.strictObject({});

type Method = "get" | "post" | "put" | "delete";

export interface RouteContract {
  method: Method;
  path: string;
  summary: string;
  /** Roles allowed; "public" needs no session, "session" any signed-in person. */
  access: "public" | "session" | readonly Role[];
  params?: z.ZodType;
  query?: z.ZodType;
  body?: z.ZodType;
  response: z.ZodType;
  status?: number;
}

/** The route table: one row per endpoint under /api/v1. */
export const API = {
  signIn: {
    method: "post",
    path: "/session",
    summary: "Sign in with a Matrix account on this trust's homeserver",
    access: "public",
    body: signInRequestSchema,
    response: sessionSchema,
    status: 201,
  },
  currentSession: { method: "get", path: "/session", summary: "The signed-in person and role", access: "session", response: sessionSchema },
  signOut: { method: "delete", path: "/session", summary: "Sign out", access: "session", response: emptySchema },
  overview: { method: "get", path: "/overview", summary: "Health of this trust's Handover", access: "session", response: overviewSchema },
  listRooms: { method: "get", path: "/rooms", summary: "Rooms the bot knows, with their kind", access: "session", response: roomListSchema },
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

export const API_PREFIX = "/api/v1";
