import type { ErrorCode } from "../http/contract.js";

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
