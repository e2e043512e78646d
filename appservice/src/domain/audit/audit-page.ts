/** The audit trail as people read it: pages of entries, newest first, and a check of the chain. */
export interface AuditEntry {
  seq: number;
  /** ISO 8601. */
  at: string;
  actor: string;
  action: string;
  target: string;
  details: Record<string, unknown>;
  hash: string;
}

export interface AuditPage {
  entries: AuditEntry[];
  /** Pass as `before` for the next (older) page; null on the last. */
  nextBefore: number | null;
}

export interface AuditVerification {
  ok: boolean;
  checked: number;
  problems: { seq: number; problem: string }[];
}
