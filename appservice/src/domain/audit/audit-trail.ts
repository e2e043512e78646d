import type { AnchorCheck } from "./anchor.js";
import type { AuditPage, AuditVerification } from "./audit-page.js";
import { type ChainedAuditRecord, type ChainHead, ChainVerifier } from "./chain.js";
import { redactAuditDetails } from "./redaction.js";

export interface AuditEvent {
  /** Matrix user ID of a person, or `handover:<component>` for Handover acting on its own. */
  actor: string;
  action: string;
  target: string;
  details?: Record<string, unknown>;
}

export interface AuditQueryInput {
  limit: number;
  before?: number | undefined;
  action?: string | undefined;
  actor?: string | undefined;
}

/** Storage for the chain; appending is serialised by the store so seq and prevHash never race. */
export interface AuditStore {
  append(event: Required<AuditEvent>): Promise<ChainedAuditRecord>;
  page(query: AuditQueryInput): Promise<ChainedAuditRecord[]>;
  /** Every record in seq order, in batches, for verification. */
  scan(batchSize: number): AsyncIterable<ChainedAuditRecord[]>;
  head(): Promise<ChainHead | null>;
}

export interface AuditRecorder {
  record(event: AuditEvent): Promise<void>;
}

export class AuditTrail implements AuditRecorder {
  constructor(private readonly store: AuditStore) {}

  async record(event: AuditEvent): Promise<void> {
    await this.store.append({
      actor: event.actor,
      action: event.action,
      target: event.target,
      details: redactAuditDetails(event.details ?? {}) as Record<string, unknown>,
    });
  }

  async page(query: AuditQueryInput): Promise<AuditPage> {
    const records = await this.store.page({ ...query, limit: query.limit + 1 });
    const entries = records.slice(0, query.limit).map((record) => ({
      seq: record.seq,
      at: record.at.toISOString(),
      actor: record.actor,
      action: record.action,
      target: record.target,
      details: record.details,
      hash: record.hash,
    }));
    const last = entries[entries.length - 1];
    return { entries, nextBefore: records.length > query.limit && last ? last.seq : null };
  }

  /**
   * Recomputes the chain; with anchors (read before this is called, so that none is newer than
   * the head read here), also checks it against the heads anchored outside the database.
   */
  async verify(anchors?: AnchorCheck): Promise<AuditVerification> {
    const verifier = new ChainVerifier();
    // Read the head first: entries appended during the scan then only extend past it.
    const head = await this.store.head();
    let lastSeq = 0;
    for await (const batch of this.store.scan(1000)) {
      for (const record of batch) {
        if (head !== null && record.seq > head.seq) break;
        verifier.add(record);
        anchors?.see(record.seq, record.hash);
        lastSeq = record.seq;
      }
    }
    const chain = verifier.finish(head);
    if (!anchors) return chain;
    anchors.finish(lastSeq);
    const problems = [...chain.problems, ...anchors.problems];
    return { ok: problems.length === 0, checked: chain.checked, problems };
  }
}
