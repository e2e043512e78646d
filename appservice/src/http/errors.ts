import { HandoverError } from "../domain/errors.js";
import type { ErrorCode, ErrorResponse } from "./contract.js";

/** The one table from error code to HTTP status. */
export const STATUS_OF: Record<ErrorCode, number> = {
  VALIDATION_FAILED: 400,
  UNAUTHENTICATED: 401,
  SIGN_IN_FAILED: 401,
  RATE_LIMITED: 429,
  NO_ROLE: 403,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  HOMESERVER_UNAVAILABLE: 502,
  HOMESERVER_REFUSED: 502,
  PEER_UNAVAILABLE: 502,
  INTERNAL: 500,
};

export function errorBody(error: HandoverError): ErrorResponse {
  return { error: { code: error.code, message: error.message, ...(error.details ? { details: error.details } : {}) } };
}

export function toHandoverError(error: unknown): HandoverError {
  if (error instanceof HandoverError) return error;
  const bodyError = error as { type?: string; status?: number };
  if (bodyError.type === "entity.parse.failed") return new HandoverError("VALIDATION_FAILED", "Request body is not valid JSON");
  if (bodyError.type === "entity.too.large") return new HandoverError("VALIDATION_FAILED", "Request body is too large");
  return new HandoverError("INTERNAL", "Something went wrong in Handover; the error has been logged");
}

/** Seconds a refused caller should wait (Retry-After), for errors that carry one. */
export function retryAfterSeconds(error: HandoverError): number | null {
  const seconds = (error as { retryAfterSeconds?: unknown }).retryAfterSeconds;
  return typeof seconds === "number" && Number.isFinite(seconds) ? Math.max(1, Math.ceil(seconds)) : null;
}
