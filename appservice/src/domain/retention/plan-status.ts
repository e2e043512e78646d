/**
 * Where a room stands with retention: no policy applies, a legal hold stops deletion, nothing
 * is due yet, or a purge is due. Imports nothing: the admin API's contract builds its schema
 * from this list, and the portal bundles it.
 */
export const PLAN_STATUSES = ["no-policy", "held", "nothing-due", "due"] as const;
export type PlanStatus = (typeof PLAN_STATUSES)[number];
