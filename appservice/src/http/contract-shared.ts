/**
 * What every part of the admin API contract shares: the schemas of roles, room kinds and the
 * error model, and the shape of a route. The words themselves are the domain's (a role, a room
 * kind, an error code); the schemas are built from its lists. Capability contracts
 * (contract-<capability>.ts) import from here, and contract.ts re-exports it, so there is no
 * import cycle. Imports zod and the domain's vocabulary files, which import nothing.
 */
import { z } from "zod";
import { ROLES, type Role } from "../domain/access/roles.js";
import { ERROR_CODES } from "../domain/errors.js";
import { ROOM_KINDS } from "../domain/rooms/room-kind.js";

export const roleSchema = z.enum(ROLES);
export const roomKindSchema = z.enum(ROOM_KINDS);
export const errorCodeSchema = z.enum(ERROR_CODES);

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
