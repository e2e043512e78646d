/**
 * Vocabulary every part of the admin API contract shares: roles, room kinds, the error model and
 * the shape of a route. Capability contracts (contract-<capability>.ts) import from here, and
 * contract.ts re-exports it, so there is no import cycle. Imports nothing but zod.
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
  "RATE_LIMITED",
  "NO_ROLE",
  "FORBIDDEN",
  "NOT_FOUND",
  "CONFLICT",
  "HOMESERVER_UNAVAILABLE",
  "HOMESERVER_REFUSED",
  "PEER_UNAVAILABLE",
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

export const roomIdParamsSchema = z.strictObject({
  roomId: z.string().regex(/^![^\s]+$/, { message: "expected a Matrix room ID like !abc:server" }),
});

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
  /** A non-JSON answer: the handler returns the body as a string (e.g. a CSV export). */
  produces?: "text/csv";
}
