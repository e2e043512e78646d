import { createHash } from "node:crypto";
import { canonicalJson } from "../canonical-json.js";

export { canonicalJson };

/**
 * The audit trail is a hash chain: each entry's hash covers its own fields and the previous
 * entry's hash, so altering, inserting or deleting a row breaks every hash after it. The head
 * (last seq and hash) is kept separately so that deleting the newest rows is caught too.
 */
export interface AuditRecord {
  seq: number;
  at: Date;
  actor: string;
  action: string;
  target: string;
  details: Record<string, unknown>;
}

export interface ChainedAuditRecord extends AuditRecord {
  prevHash: string;
  hash: string;
}

export const GENESIS_HASH = "0".repeat(64);

export function hashRecord(record: AuditRecord, prevHash: string): string {
  const body = canonicalJson({
    seq: record.seq,
    at: record.at.toISOString(),
    actor: record.actor,
    action: record.action,
    target: record.target,
    details: record.details,
  });
  return createHash("sha256").update(prevHash).update("\n").update(body).digest("hex");
}

export interface ChainProblem {
  seq: number;
  problem: string;
}

export interface ChainHead {
  seq: number;
  hash: string;
}

/** Checks records in seq order against each other and against the stored head. */
export class ChainVerifier {
  private expectedSeq = 1;
  private prevHash = GENESIS_HASH;
  private checked = 0;
  readonly problems: ChainProblem[] = [];

  add(record: ChainedAuditRecord): void {
    this.checked++;
    if (record.seq !== this.expectedSeq) {
      this.problems.push({ seq: record.seq, problem: `expected entry ${this.expectedSeq} next: entries are missing` });
    }
    if (record.prevHash !== this.prevHash) {
      this.problems.push({ seq: record.seq, problem: "previous-hash link does not match the entry before it" });
    }
    if (hashRecord(record, record.prevHash) !== record.hash) {
      this.problems.push({ seq: record.seq, problem: "entry was altered: its hash does not match its contents" });
    }
    this.expectedSeq = record.seq + 1;
    this.prevHash = record.hash;
  }

  finish(head: ChainHead | null): { ok: boolean; checked: number; problems: ChainProblem[] } {
    const lastSeq = this.expectedSeq - 1;
    if (head === null && lastSeq > 0) this.problems.push({ seq: lastSeq, problem: "chain head record is missing" });
    if (head !== null && (head.seq !== lastSeq || head.hash !== this.prevHash)) {
      this.problems.push({
        seq: head.seq,
        problem: `chain head says entry ${head.seq} is last, but the trail ends at ${lastSeq}: entries were deleted or altered`,
      });
    }
    return { ok: this.problems.length === 0, checked: this.checked, problems: this.problems };
  }
}
