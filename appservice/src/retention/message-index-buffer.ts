export interface IndexSink {
  recordMessages(rows: readonly { roomId: string; eventId: string; ts: Date }[]): Promise<void>;
}

/**
 * Batches the message index's inserts: the event pump hands over one event at a time, and one
 * INSERT per message would halve ingest. The pump flushes it before handled events leave its
 * inbox (Capability.flushHandled), so a crash loses no index row: the events are handled again.
 */
export class MessageIndexBuffer {
  private rows: { roomId: string; eventId: string; ts: Date }[] = [];
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly sink: IndexSink,
    private readonly onError: (error: unknown) => void,
    private readonly maxRows = 500,
    private readonly intervalMs = 250,
  ) {}

  add(roomId: string, eventId: string, ts: Date): Promise<void> {
    this.rows.push({ roomId, eventId, ts });
    if (this.rows.length >= this.maxRows) void this.flush().catch(this.onError);
    return Promise.resolve();
  }

  flush(): Promise<void> {
    const batch = this.rows;
    this.rows = [];
    const done = this.flushing.then(async () => {
      if (batch.length > 0) await this.sink.recordMessages(batch);
    });
    // A failed batch is reported to the caller but does not block the batches after it.
    this.flushing = done.catch(() => undefined);
    return done;
  }

  start(): void {
    this.timer = setInterval(() => void this.flush().catch(this.onError), this.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.flush().catch(this.onError);
  }
}
