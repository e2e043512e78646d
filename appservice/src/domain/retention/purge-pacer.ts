import type { Clock } from "../clock.js";

export interface PacerSettings {
  /** Deletion steps (history reads, purge slices) in flight at most, across rooms. */
  maxConcurrency: number;
  /**
   * An answer counts as slow when it takes longer than `slowFactor` times the quickest answer
   * seen lately plus `slowMarginMs`: what the homeserver answers Handover in, it answers
   * clinicians in too.
   */
  slowFactor: number;
  slowMarginMs: number;
  /** The longest pause between steps while answers stay slow (the pause doubles up to it). */
  maxPauseMs: number;
}

export const DEFAULT_PACER_SETTINGS: PacerSettings = { maxConcurrency: 4, slowFactor: 2, slowMarginMs: 15, maxPauseMs: 2_000 };

/**
 * Paces deletion work by the homeserver's answer times, the way TCP paces a sender (AIMD): one
 * more step in flight after each step that finished with quick answers, half as many (and a
 * growing pause once down to one) as soon as an answer is slow. Synapse has no limit of its own
 * on concurrent purges (element-hq/synapse#20248), and a purge competes with clinicians' messages
 * for the same database and the same Python process.
 */
export class PurgePacer {
  private limit = 1;
  private active = 0;
  private pauseMs = 0;
  private pausedUntil = 0;
  private quickest = Number.POSITIVE_INFINITY;
  private slowSinceLastStep = false;
  private readonly waiting: (() => void)[] = [];
  /** For the bench and the logs: how the limit moved. */
  readonly stats = { slowAnswers: 0, answers: 0, peakConcurrency: 1, backoffs: 0 };

  constructor(
    private readonly settings: PacerSettings,
    private readonly clock: Clock,
    private readonly sleep: (ms: number) => Promise<void>,
  ) {}

  get concurrency(): number {
    return this.limit;
  }

  /** One answer time of the homeserver (a purge status poll, a history page, a probe). */
  observe(answerMs: number): void {
    this.stats.answers++;
    // The quickest answer lately is the baseline; it drifts up slowly so that one lucky answer
    // long ago does not make everything look slow.
    this.quickest = Math.min(answerMs, this.quickest * 1.02);
    if (answerMs <= this.quickest * this.settings.slowFactor + this.settings.slowMarginMs) return;
    this.stats.slowAnswers++;
    if (this.slowSinceLastStep) return;
    this.slowSinceLastStep = true;
    this.stats.backoffs++;
    if (this.limit > 1) this.limit = Math.max(1, Math.floor(this.limit / 2));
    else this.pauseMs = Math.min(this.settings.maxPauseMs, Math.max(100, this.pauseMs * 2));
    this.pausedUntil = this.clock.now().getTime() + this.pauseMs;
  }

  /** Runs one step when the pace allows; steps beyond the current limit wait their turn. */
  async run<T>(step: () => Promise<T>): Promise<T> {
    while (this.active >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.active++;
    try {
      const pause = this.pausedUntil - this.clock.now().getTime();
      if (pause > 0) await this.sleep(pause);
      return await step();
    } finally {
      this.active--;
      this.afterStep();
    }
  }

  private afterStep(): void {
    if (this.slowSinceLastStep) {
      this.slowSinceLastStep = false;
    } else {
      this.pauseMs = Math.floor(this.pauseMs / 2);
      if (this.pauseMs < 100) this.pauseMs = 0;
      if (this.pauseMs === 0 && this.limit < this.settings.maxConcurrency) this.limit++;
    }
    this.stats.peakConcurrency = Math.max(this.stats.peakConcurrency, this.limit);
    while (this.active < this.limit && this.waiting.length > 0) this.waiting.shift()?.();
  }
}
