/**
 * The stable codes of expected failures. The HTTP layer maps each to a status in one table; the
 * admin API's contract builds its error schema from this list.
 */
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
export type ErrorCode = (typeof ERROR_CODES)[number];

/** An expected failure with a stable code; the HTTP layer maps codes to statuses in one table. */
export class HandoverError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: { path: string; message: string }[],
  ) {
    super(message);
    this.name = "HandoverError";
  }
}
