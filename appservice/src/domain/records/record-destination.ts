import type { FiledDocument, FilingReceipt } from "./filing.js";

/**
 * Why the record system did not accept a filing. Both are retried with backoff: "unavailable"
 * (down, timed out, 5xx) usually clears by itself; "refused" (4xx) may need someone to act.
 */
export class RecordSystemError extends Error {
  constructor(
    readonly kind: "unavailable" | "refused",
    message: string,
  ) {
    super(message);
    this.name = "RecordSystemError";
  }
}

/** Where filings go: a FHIR server, or a directory a record system imports from. */
export interface RecordDestination {
  readonly kind: FilingReceipt["destination"];
  /**
   * Delivers the filed document (the transaction bundle and its PDF); resolves with what the
   * record system answered once it has accepted it. Delivering the same export again must not
   * create a second record.
   */
  deliver(exportId: string, document: FiledDocument): Promise<FilingReceipt>;
}
