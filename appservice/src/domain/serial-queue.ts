/**
 * Runs work one item at a time, in the order it was asked for, within this process. For state
 * that lives in this process (a crypto machine, a store mirror, the order inbound messages are
 * applied in); work that must not overlap across Handover processes takes a job lock instead
 * (JobScheduler.runExclusive).
 *
 * A failed item fails only its own caller: the next item still runs. Work always starts in a
 * later microtask, never inside run(), so a caller can note the returned promise before its work
 * begins. Only the tail of the queue is held, so finished work is not kept.
 */
export class SerialQueue {
  private tail: Promise<void> = Promise.resolve();
  private waiting = 0;

  run<T>(work: () => Promise<T> | T): Promise<T> {
    this.waiting += 1;
    const result = this.tail.then(work);
    const finished = () => {
      this.waiting -= 1;
    };
    this.tail = result.then(finished, finished);
    return result;
  }

  /** Items asked for and not yet finished, the one running included. */
  get pending(): number {
    return this.waiting;
  }

  /** Settles once everything queued so far has finished, failed items included. */
  idle(): Promise<void> {
    return this.tail;
  }
}
