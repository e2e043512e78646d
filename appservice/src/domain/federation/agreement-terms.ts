/**
 * What two trusts agree to when they federate, and the organisation each side presents. Imports
 * nothing: the admin API's contract builds its schemas from these, and the portal bundles it.
 */
export const AGREEMENT_STATUSES = ["proposed", "active", "declined", "suspended", "revoked"] as const;
export type AgreementStatus = (typeof AGREEMENT_STATUSES)[number];

export const AGREEMENT_ACTIONS = ["accept", "decline", "suspend", "resume", "revoke"] as const;
export type AgreementAction = (typeof AGREEMENT_ACTIONS)[number];

export type AgreementScope =
  /** Every room Handover manages on both sides. */
  | { kind: "all" }
  /** Only the named spaces (Matrix room IDs) and their child rooms. */
  | { kind: "spaces"; spaces: string[] };

export interface AgreementTerms {
  scope: AgreementScope;
  /** Why the trusts federate, e.g. the regional stroke network. */
  purpose: string;
  /** When both sides review the agreement (YYYY-MM-DD). */
  reviewDate: string;
  /** How filed content is retained on both sides. */
  retention: string;
}

export interface Organisation {
  serverName: string;
  name: string;
  odsCode: string;
  contact: string;
}
