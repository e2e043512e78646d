/**
 * Where a filing stands, from the clinician's request to the record system's answer. Imports
 * nothing: the admin API's contract builds its schema from this list, and the portal bundles it.
 */
export const FILING_STATUSES = ["awaiting_confirmation", "sending", "retrying", "filed", "failed", "cancelled"] as const;
export type FilingStatus = (typeof FILING_STATUSES)[number];
