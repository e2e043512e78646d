import type { Clock } from "../clock.js";

export interface PacerSettings {
  /** Deletion steps (history reads, purge slices) in flight at most, across rooms. */
  maxConcurrency: number;
  /**
   * A probe answer counts as slow when it takes longer than `slowFactor` times the quickest
   * answer seen lately plus `slowMarginMs`: the probe goes the way a clinician's message goes.
   */
  slowFactor: number;
  slowMarginMs: number;
  /**
   * After Synapse was busy `t` ms with deletion work (a history page, a purge call), the next
   * piece of work waits `t × rest`: 2 (the default least) keeps the homeserver on deletion a third
   * of the time at most.
   * The rest doubles after each slow probe answer (up to `maxRest`) and shrinks with each quick one
   * (down to `minRest`); only at `minRest` does a second step run beside the first.
   */
  initialRest: number;
  minRest: number;
  maxRest: number;
  /**
   * What a quick probe answer takes off the rest factor; a slow answer doubles it. (1/64 was
   * tried: the probe's own spread when idle then kept the rest high and a sweep of 100,000
   * messages took over 25 minutes.)
   */
  restStep: number;
  /**
   * One rest is never longer than this, however long the work seemed: a piece of work timed
   * across a wall-clock step forward must not stop the sweep (and hold its job lock) for hours.
   */
  maxRestMs: number;
  /** How often the probe is timed while deletion work is under way. */
  probeIntervalMs: number;
  /**
   * A probe not answered this soon is a slow answer, and the next is sent without waiting for
   * it: a homeserver too busy to answer at all is the slowest of all, not a silent one.
   */
  probeTimeoutMs: number;
}

export const DEFAULT_PACER_SETTINGS: PacerSettings = {
  maxConcurrency: 1,
  slowFactor: 2,
  slowMarginMs: 15,
  initialRest: 2,
  minRest: 2,
  maxRest: 16,
  restStep: 0.125,
  maxRestMs: 60_000,
  probeIntervalMs: 250,
  probeTimeoutMs: 2_000,
};

/**
 * Paces deletion work so that clinicians do not feel it. Synapse has no limit of its own on
 * concurrent purges (element-hq/synapse#20248), and a purge or a page of history competes with
 * clinicians' messages for the same Python process and the same database. Two measures:
 *
 * - work and rest: each piece of work (a page of history, one purge call start to finish) is
 *   followed by a rest in proportion to how long it kept Synapse busy, so the homeserver's time
 *   goes to deletion in short bursts with room for everyone else between them;
 * - a probe: while work is under way, a cheap write of Handover's own (`probe`) is timed every
 *   `probeIntervalMs`, the way a clinician's message goes through the homeserver. A slow answer
 *   doubles the rest (and halves the steps in flight); quick ones shrink it again, as TCP paces
 *   a sender (AIMD). Synapse's answers to the work itself say little: a purge status poll is read
 *   from memory and stays quick while clinicians' messages wait.
 */
export class PurgePacer {
  private limit = 1;
  private active = 0;
  private rest: number;
  private restUntil = 0;
  /** How long the rest that ends at `restUntil` was when it was owed. */
  private restOwed = 0;
  private quickest = Number.POSITIVE_INFINITY;
  private probing: Promise<void> | null = null;
  private readonly waiting: (() => void)[] = [];
  /** For the bench and the logs: how the pace moved. */
  readonly stats = { slowAnswers: 0, answers: 0, restedMs: 0, busyMs: 0, peakRest: 0 };

  constructor(
    private readonly settings: PacerSettings,
    private readonly clock: Clock,
    private readonly sleep: (ms: number) => Promise<void>,
    /** A cheap homeserver write timed while work is under way (absent: no probing). */
    private readonly probe?: () => Promise<unknown>,
  ) {
    this.rest = settings.initialRest;
    this.stats.peakRest = this.rest;
  }

  get concurrency(): number {
    return this.limit;
  }

  /** The current rest factor (work time × this = the pause after it). */
  get restFactor(): number {
    return this.rest;
  }

  /** One answer time of the probe (or of any request that goes the way a clinician's does). */
  observe(answerMs: number): void {
    // Timed across a wall clock stepped back, or not timed at all: it says nothing, and as the
    // baseline below it would make every later answer look slow, for good.
    if (!Number.isFinite(answerMs) || answerMs < 0) return;
    this.stats.answers++;
    // The quickest answer lately is the baseline; it drifts up slowly so that one lucky answer
    // long ago does not make everything look slow (from 1 ms at least: 0 would never drift).
    this.quickest = Math.max(1, Math.min(answerMs, this.quickest * 1.02));
    if (answerMs <= this.quickest * this.settings.slowFactor + this.settings.slowMarginMs) {
      // Quick: a little less rest; once at the least, one more step beside the others.
      this.rest = Math.max(this.settings.minRest, this.rest - this.settings.restStep);
      if (this.rest === this.settings.minRest && this.limit < this.settings.maxConcurrency) {
        this.limit++;
        this.wake();
      }
      return;
    }
    this.slowAnswer();
  }

  private slowAnswer(): void {
    this.stats.slowAnswers++;
    this.limit = Math.max(1, Math.floor(this.limit / 2));
    this.rest = Math.min(this.settings.maxRest, this.rest * 2);
    this.stats.peakRest = Math.max(this.stats.peakRest, this.rest);
  }

  /** Runs one step when the pace allows; steps beyond the current limit wait their turn. */
  async run<T>(step: () => Promise<T>): Promise<T> {
    while (this.active >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.active++;
    this.startProbing();
    try {
      return await step();
    } finally {
      this.active--;
      this.wake();
    }
  }

  private wake(): void {
    while (this.active < this.limit && this.waiting.length > 0) this.waiting.shift()?.();
  }

  /** Waits out the rest owed for earlier work. */
  async rested(): Promise<void> {
    for (;;) {
      const pause = this.owed(this.clock.now().getTime());
      // Also ends a rest that is not a number, rather than pausing NaN ms again and again.
      if (!(pause > 0)) return;
      this.stats.restedMs += pause;
      await this.sleep(pause);
    }
  }

  /** Synapse was busy `busyMs` with a piece of deletion work: the next waits in proportion. */
  worked(busyMs: number): void {
    // A duration that is not a finite number was not measured (or not on this clock): no rest.
    const busy = Number.isFinite(busyMs) ? Math.max(0, busyMs) : 0;
    this.stats.busyMs += busy;
    const now = this.clock.now().getTime();
    const rest = Math.min(this.settings.maxRestMs, busy * this.rest);
    if (rest > this.owed(now)) {
      this.restUntil = now + rest;
      this.restOwed = rest;
    }
  }

  /** The rest still owed at `now`: a wall clock stepped back since it was owed does not lengthen it. */
  private owed(now: number): number {
    if (this.restUntil - now > this.restOwed) this.restUntil = now + this.restOwed;
    return this.restUntil - now;
  }

  /** One piece of work, after the rest owed for earlier work, and timed for the rest after it. */
  async paced<T>(work: () => Promise<T>): Promise<T> {
    await this.rested();
    const started = this.clock.now().getTime();
    try {
      return await work();
    } finally {
      this.worked(this.clock.now().getTime() - started);
    }
  }

  private startProbing(): void {
    const probe = this.probe;
    if (!probe || this.probing) return;
    this.probing = (async () => {
      try {
        while (this.active > 0) {
          await this.probeOnce(probe);
          await this.sleep(this.settings.probeIntervalMs);
        }
      } catch {
        // Nobody awaits this loop, and Node ends the process on an unhandled rejection: a pause
        // that fails ends the loop, and the next step starts another.
      } finally {
        this.probing = null;
      }
    })();
  }

  private async probeOnce(probe: () => Promise<unknown>): Promise<void> {
    const asked = this.clock.now().getTime();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<"late">((resolve) => {
      timer = setTimeout(resolve, this.settings.probeTimeoutMs, "late");
      // Never what keeps the process alive once it is stopping.
      timer.unref();
    });
    // Called from a promise, so that a probe throwing before it returns one fails like any other.
    const answered = Promise.resolve()
      .then(probe)
      .then(
        () => "answered" as const,
        () => "failed" as const,
      );
    const outcome = await Promise.race([answered, late]);
    clearTimeout(timer);
    // A failed probe says nothing about how long clinicians wait: only answers (and silence) count.
    if (outcome === "answered") this.observe(this.clock.now().getTime() - asked);
    else if (outcome === "late") {
      this.stats.answers++;
      this.slowAnswer();
    }
  }
}
