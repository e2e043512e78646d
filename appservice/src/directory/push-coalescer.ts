export interface PushCoalescerOptions {
  /** A run starts once pushes have been quiet this long... */
  quietMs: number;
  /** ...or this long after the first push it covers, if they keep coming (never sooner than `quietMs`). */
  maxDelayMs: number;
  /** One sync run over everything pushed so far (a run reads the source whole). */
  run(): Promise<unknown>;
  onError(error: unknown): void;
  now?: () => number;
}

/**
 * Turns a burst of pushes from one directory source (Entra sends many requests per provisioning
 * cycle) into one sync run: each push moves the run to `quietMs` after it, but never past
 * `maxDelayMs` after the first push still waiting. Pushes that arrive while a run is under way
 * wait for it and then share one more run. So N pushes make one plan, one guard verdict over all
 * of them, and one set of homeserver writes, not N.
 */
export class PushCoalescer {
  private timer: NodeJS.Timeout | null = null;
  private firstWaiting: number | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private stopped = false;

  constructor(private readonly options: PushCoalescerOptions) {}

  pushed(): void {
    if (this.stopped) return;
    const now = (this.options.now ?? Date.now)();
    this.firstWaiting ??= now;
    const due = Math.min(now + this.options.quietMs, this.firstWaiting + Math.max(this.options.maxDelayMs, this.options.quietMs));
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.due(), Math.max(0, due - now));
    this.timer.unref();
  }

  /** Stops scheduling runs; resolves when a run under way has finished. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
  }

  private due(): void {
    this.timer = null;
    this.firstWaiting = null;
    if (this.running) {
      // The run under way may have read the source before these pushes: one more run follows it.
      this.again = true;
      return;
    }
    this.running = this.runOnce();
  }

  private async runOnce(): Promise<void> {
    try {
      do {
        this.again = false;
        await this.options.run().catch(this.options.onError);
      } while (this.again && !this.stopped);
    } finally {
      this.running = null;
    }
  }
}
