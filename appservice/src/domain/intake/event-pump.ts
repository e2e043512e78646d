import type { MatrixEvent } from "../matrix-event.js";
import type { InboxItem, InboxStore } from "./inbox.js";

export interface PumpObserver {
  handled(event: MatrixEvent): void;
  failed(event: MatrixEvent, error: unknown, gaveUp: boolean): void;
  /**
   * Writes what the handler buffered for the events just handled; awaited before they leave the
   * inbox. If it fails they stay, and are handled again (handlers are idempotent).
   */
  beforeDone?(): Promise<void>;
  /** The handled events could not be marked done (they stay in the inbox for the next pass). */
  notDone?(error: unknown): void;
}

export const MAX_ATTEMPTS = 5;

/**
 * Hands stored events to the handler one at a time, in the order the homeserver sent them,
 * and deletes each from the inbox once handled and what the handler buffered is written. An event whose handler throws stays in the
 * inbox and is tried again later; after MAX_ATTEMPTS it is kept aside for inspection.
 */
export class EventPump {
  private readonly queue: InboxItem[] = [];
  private readonly queued = new Set<number>();
  private running: Promise<void> | null = null;

  constructor(
    private readonly store: InboxStore,
    private readonly handler: (event: MatrixEvent) => Promise<void>,
    private readonly observer: PumpObserver,
  ) {}

  enqueue(items: InboxItem[]): void {
    for (const item of items) {
      if (this.queued.has(item.id)) continue;
      this.queued.add(item.id);
      this.queue.push(item);
    }
    this.running ??= this.drain().finally(() => {
      this.running = null;
    });
  }

  /** Picks up events left in the inbox by a crash, or waiting for another attempt. */
  async recover(): Promise<void> {
    this.enqueue(await this.store.pending(10_000));
  }

  /** Resolves when everything enqueued so far has been handled or has failed. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, 500);
      const done: number[] = [];
      for (const item of batch) {
        try {
          await this.handler(item.event);
          done.push(item.id);
          this.observer.handled(item.event);
        } catch (error) {
          const giveUp = item.attempts + 1 >= MAX_ATTEMPTS;
          this.observer.failed(item.event, error, giveUp);
          await this.store.failed(item.id, error instanceof Error ? error.message : String(error), giveUp);
        }
      }
      try {
        if (done.length > 0) {
          await this.observer.beforeDone?.();
          await this.store.done(done);
        }
      } catch (error) {
        this.observer.notDone?.(error);
      } finally {
        for (const item of batch) this.queued.delete(item.id);
      }
    }
  }
}
