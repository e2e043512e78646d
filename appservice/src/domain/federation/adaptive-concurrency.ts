/**
 * How many homeserver calls to keep in flight, adapted to how fast the homeserver answers.
 *
 * A homeserver that is keeping up answers about as fast as it did with one call in flight;
 * once it queues, each extra call only lengthens every answer (and everyone else's, clinicians'
 * messages included). So the limit grows by one per answer while the smoothed answer time stays
 * within `tolerance` times the fastest answer seen, shrinks in proportion over a round of answers
 * once it goes beyond (Vegas/gradient style), and halves when a call fails.
 */
export interface ConcurrencyLimitOptions {
  initial: number;
  min: number;
  max: number;
  /** Answer time allowed, as a multiple of the fastest answer seen, before the limit shrinks. */
  tolerance: number;
}

export class ConcurrencyLimit {
  private value: number;
  private fastestMs = Number.POSITIVE_INFINITY;
  private smoothedMs: number | null = null;
  private highest: number;

  constructor(private readonly options: ConcurrencyLimitOptions) {
    if (!(options.min >= 1 && options.min <= options.initial && options.initial <= options.max && options.tolerance > 1)) {
      throw new RangeError("expected 1 <= min <= initial <= max and tolerance > 1");
    }
    this.value = options.initial;
    this.highest = options.initial;
  }

  /** Calls allowed in flight now (whole number). */
  get current(): number {
    return Math.floor(this.value);
  }

  /** The highest limit reached (for reports). */
  get peak(): number {
    return Math.floor(this.highest);
  }

  /** The smoothed answer time, in ms (null before the first answer). */
  get smoothedAnswerMs(): number | null {
    return this.smoothedMs;
  }

  answered(elapsedMs: number): void {
    const { min, max, tolerance } = this.options;
    const sample = Math.max(elapsedMs, 0.1);
    this.fastestMs = Math.min(this.fastestMs, sample);
    this.smoothedMs = this.smoothedMs === null ? sample : this.smoothedMs + 0.2 * (sample - this.smoothedMs);
    const allowed = tolerance * this.fastestMs;
    if (this.smoothedMs <= allowed) this.value = Math.min(max, this.value + 1);
    // Shrinks by the overshoot per answer, so over one round of `value` answers the limit falls
    // roughly in proportion (allowed / smoothed), not by that factor on every single answer: the
    // answers of one round all carry the same queue and must not each cut the limit again.
    else this.value = Math.max(min, this.value - Math.min(0.5 * this.value, 1 - allowed / this.smoothedMs));
    this.highest = Math.max(this.highest, this.value);
  }

  failed(): void {
    this.value = Math.max(this.options.min, this.value / 2);
  }
}

/**
 * A stage of a pipeline: items arrive while it runs (`push`), each is handed to `work` with at
 * most `limit.current` in flight, every call timed into the limit; a call that throws goes to
 * `onFailure` (and halves the limit). `close` says no more will come; `drained` settles once
 * every item pushed before it has been worked. Stages fed by one another overlap: the next can
 * begin with the first item the previous one hands on, not after the last.
 *
 * `work` that throws before returning a promise fails its item like a rejection. If `onFailure`
 * itself throws, the item could be neither done nor reported: `drained` then rejects with that
 * error once the stage is idle, so the caller cannot count the run as complete.
 */
export class AdaptiveStage<T> {
  readonly drained: Promise<void>;
  private readonly queue: T[] = [];
  private head = 0;
  private inFlight = 0;
  private closed = false;
  private settle: () => void = () => undefined;
  private fail: (error: unknown) => void = () => undefined;
  private broken: { error: unknown } | null = null;
  private firstStart: number | null = null;
  private lastEnd: number | null = null;

  constructor(
    private readonly limit: ConcurrencyLimit,
    private readonly work: (item: T) => Promise<void>,
    private readonly onFailure: (item: T, error: unknown) => void,
    private readonly nowMs: () => number = () => performance.now(),
  ) {
    this.drained = new Promise<void>((resolve, reject) => {
      this.settle = resolve;
      this.fail = reject;
    });
  }

  /** From this stage's first call to the end of its last (0 if it had none). */
  get activeMs(): number {
    return this.firstStart === null || this.lastEnd === null ? 0 : this.lastEnd - this.firstStart;
  }

  push(item: T): void {
    if (this.closed) throw new Error("pushed to a closed stage");
    this.queue.push(item);
    this.launch();
  }

  close(): void {
    this.closed = true;
    this.launch();
  }

  private launch(): void {
    while (this.inFlight < Math.max(1, this.limit.current) && this.head < this.queue.length) {
      const item = this.queue[this.head++] as T;
      this.inFlight++;
      const started = this.nowMs();
      this.firstStart ??= started;
      let running: Promise<void>;
      try {
        running = this.work(item);
      } catch (error) {
        running = Promise.reject(error);
      }
      running
        .then(
          () => this.limit.answered(this.nowMs() - started),
          (error: unknown) => {
            this.limit.failed();
            this.onFailure(item, error);
          },
        )
        .catch((error: unknown) => {
          this.broken ??= { error };
        })
        .finally(() => {
          this.inFlight--;
          this.lastEnd = this.nowMs();
          this.launch();
        });
    }
    if (this.closed && this.inFlight === 0 && this.head >= this.queue.length) {
      if (this.broken) this.fail(this.broken.error);
      else this.settle();
    }
  }
}

/**
 * Runs `work` for every item with at most `limit.current` in flight, timing each call into the
 * limit. A call that throws is handed to `onFailure` (and halves the limit); the run goes on.
 */
export async function forEachAdaptively<T>(
  items: readonly T[],
  limit: ConcurrencyLimit,
  work: (item: T) => Promise<void>,
  onFailure: (item: T, error: unknown) => void,
  nowMs: () => number = () => performance.now(),
): Promise<void> {
  const stage = new AdaptiveStage(limit, work, onFailure, nowMs);
  for (const item of items) stage.push(item);
  stage.close();
  await stage.drained;
}
