import type { MatrixEvent } from "../matrix-event.js";

export interface InboxItem {
  id: number;
  event: MatrixEvent;
  attempts: number;
}

export interface Quarantined {
  reason: string;
  event: unknown;
}

/** Durable record of transactions and the events waiting to be handled. */
export interface InboxStore {
  /** Records the transaction and its events atomically; null when the transaction id was seen before. */
  accept(txnId: string, events: MatrixEvent[], quarantined: Quarantined[]): Promise<InboxItem[] | null>;
  /** Events not yet handled nor given up on, oldest first. */
  pending(limit: number): Promise<InboxItem[]>;
  done(ids: number[]): Promise<void>;
  failed(id: number, error: string, giveUp: boolean): Promise<void>;
  lastTransactionAt(): Promise<Date | null>;
  pruneTransactions(olderThan: Date): Promise<number>;
}
