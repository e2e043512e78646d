import type { AuditRecorder } from "../audit/audit-trail.js";
import type { Clock } from "../clock.js";
import type { RoomNotifier } from "../commands/bot-commands.js";
import { HandoverError } from "../errors.js";
import type { FilingLedger } from "../filing/filed-range.js";
import type { FiledDocument, Filing, FilingStore } from "./filing.js";
import { type RecordDestination, RecordSystemError } from "./record-destination.js";

export interface RetryPolicy {
  initialDelayMs: number;
  maxDelayMs: number;
  /** After this many failed attempts the filing is marked failed; someone can still retry it. */
  maxAttempts: number;
  /** How long one attempt may hold a filing before another process may take it over. */
  leaseMs: number;
}

export interface FilingAttemptDeps {
  filings: FilingStore;
  compose(filing: Filing): Promise<FiledDocument>;
  /**
   * Problems a stored bundle has against the UK Core profiles. A freshly composed bundle is
   * checked by the composer; a stored one (kept by an earlier attempt, perhaps by an earlier
   * version of Handover) is checked again before it is sent, and composed again if it fails.
   */
  validateStored(document: FiledDocument): string[];
  destination: RecordDestination | null;
  ledger: FilingLedger;
  notifier: RoomNotifier;
  audit: AuditRecorder;
  clock: Clock;
  retry: RetryPolicy;
  /** Renders a time for room notices, in the trust's time zone. */
  formatTime(at: Date): string;
}

export function backoffMs(policy: RetryPolicy, attempts: number): number {
  return Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** Math.max(0, attempts - 1));
}

/**
 * Sends confirmed filings to the record system, exactly once: each attempt claims the filing,
 * builds (or reuses) its bundle and delivers it with conditional creates. Only when the record
 * system has accepted it is the filed range handed to retention and the filing marked filed,
 * in that order, so a crash anywhere leaves a filing that is attempted again and, thanks to
 * the conditional create, still files once.
 */
export class FilingAttempts {
  constructor(private readonly deps: FilingAttemptDeps) {}

  /** Attempts one filing if its attempt is due; answers its state afterwards. */
  async attempt(exportId: string): Promise<Filing | null> {
    const now = this.deps.clock.now();
    if (!(await this.deps.filings.claim(exportId, now, new Date(now.getTime() + this.deps.retry.leaseMs)))) return this.deps.filings.get(exportId);
    const filing = await this.deps.filings.get(exportId);
    if (!filing) return null;
    const destination = this.deps.destination;
    if (!destination) return this.fail(filing, "Filing to the record is not set up for this trust.", false);
    let document: FiledDocument;
    try {
      const stored = await this.deps.filings.document(exportId);
      document = stored ? await this.valid(filing, stored) : await this.composeAndKeep(filing);
    } catch (error) {
      // An encrypted room or a bundle that fails validation will not get better by waiting.
      const permanent = error instanceof HandoverError && (error.code === "CONFLICT" || error.code === "VALIDATION_FAILED");
      return this.fail(filing, error instanceof Error ? error.message : String(error), !permanent);
    }
    try {
      const receipt = await destination.deliver(exportId, document);
      const filedAt = this.deps.clock.now();
      const filedBy = filing.confirmedBy ?? filing.requestedBy;
      await this.deps.ledger.recordFiled(
        {
          roomId: filing.roomId,
          upToEventId: filing.upToEventId,
          upToTs: filing.upToTs,
          threadRootId: filing.threadRootId,
          filedAt,
          filingRef: exportId,
          filedBy,
        },
        document.capture,
      );
      await this.deps.filings.update(exportId, { status: "filed", receipt, filedAt, attempts: filing.attempts + 1, nextAttemptAt: null, lastError: null });
      await this.deps.audit.record({
        actor: filedBy,
        action: "records.filed",
        target: filing.roomId,
        details: { exportId, documentReference: receipt.documentReference, messageCount: filing.messageCount, attempts: filing.attempts + 1 },
      });
      await this.notify(
        filing,
        `Filed to the record as ${receipt.documentReference} by ${filedBy} (${filing.messageCount} messages).`,
        `records:filed:${exportId}`,
      );
      return this.deps.filings.get(exportId);
    } catch (error) {
      const message =
        error instanceof RecordSystemError
          ? `the record system ${error.kind === "unavailable" ? "is unavailable" : "refused it"}: ${error.message}`
          : String(error);
      return this.fail(filing, message, true);
    }
  }

  /** Every filing whose next attempt is due (the periodic job). */
  async attemptDue(limit = 20): Promise<number> {
    const due = await this.deps.filings.due(this.deps.clock.now(), limit);
    for (const exportId of due) await this.attempt(exportId);
    return due.length;
  }

  /** Someone asks for another attempt now (portal). */
  async retryNow(exportId: string, actor: string): Promise<Filing | null> {
    const filing = await this.deps.filings.get(exportId);
    if (!filing) throw new HandoverError("NOT_FOUND", `No filing ${exportId}`);
    if (filing.status !== "retrying" && filing.status !== "failed")
      throw new HandoverError("CONFLICT", `This filing is ${filing.status.replace("_", " ")}; only failed filings can be retried.`);
    await this.deps.filings.update(exportId, { status: "retrying", nextAttemptAt: this.deps.clock.now() });
    await this.deps.audit.record({ actor, action: "records.filing_retry_requested", target: filing.roomId, details: { exportId } });
    return this.attempt(exportId);
  }

  /**
   * A kept bundle that fails validation is never sent: the filing is composed again from the same
   * range (the composer refuses one that still fails) and the kept document replaced. Its events
   * stay reserved to this filing, and the conditional create still files it once, even if the
   * old bundle had reached the record system before a crash.
   */
  private async valid(filing: Filing, stored: FiledDocument): Promise<FiledDocument> {
    if (this.deps.validateStored(stored).length === 0) return stored;
    const document = await this.deps.compose(filing);
    await this.deps.filings.replaceDocument(filing.exportId, document);
    return { ...document, eventIds: stored.eventIds };
  }

  private async composeAndKeep(filing: Filing): Promise<FiledDocument> {
    const document = await this.deps.compose(filing);
    await this.deps.filings.saveDocument(filing.exportId, document);
    return document;
  }

  private async fail(filing: Filing, reason: string, retryable: boolean): Promise<Filing | null> {
    const attempts = filing.attempts + 1;
    const gaveUp = !retryable || attempts >= this.deps.retry.maxAttempts;
    const nextAttemptAt = gaveUp ? null : new Date(this.deps.clock.now().getTime() + backoffMs(this.deps.retry, attempts));
    await this.deps.filings.update(filing.exportId, { status: gaveUp ? "failed" : "retrying", attempts, nextAttemptAt, lastError: reason });
    await this.deps.audit.record({
      actor: filing.confirmedBy ?? filing.requestedBy,
      action: "records.filing_failed",
      target: filing.roomId,
      details: { exportId: filing.exportId, attempt: attempts, willRetry: !gaveUp },
    });
    const next = nextAttemptAt
      ? `Handover will try again at ${this.deps.formatTime(nextAttemptAt)}.`
      : "Handover will not try again by itself: retry it from the portal's Records page once the problem is fixed.";
    await this.notify(
      filing,
      `Filing to the record failed (attempt ${attempts}): ${reason}. Nothing has been marked as filed. ${next}`,
      `records:failed:${filing.exportId}:${attempts}`,
    );
    return this.deps.filings.get(filing.exportId);
  }

  private async notify(filing: Filing, text: string, key: string): Promise<void> {
    try {
      await this.deps.notifier.notice(filing.roomId, text, key);
    } catch {
      // The filing's state is what counts; the room is told again on the next change.
    }
  }
}
