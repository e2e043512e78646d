import { HandoverError } from "../errors.js";
import { checkEvent, type MatrixEvent } from "../matrix-event.js";
import type { EventPump } from "./event-pump.js";
import type { InboxStore, Quarantined } from "./inbox.js";

export interface IntakeResult {
  duplicate: boolean;
  accepted: number;
  quarantined: number;
}

export interface IntakeObserver {
  quarantined(txnId: string, reason: string): void;
}

/** Synapse's own limit is 64 KiB per event; with `unsigned` (a state event's previous content) it can double. */
export const DEFAULT_MAX_EVENT_BYTES = 256 * 1024;

/**
 * Receives a homeserver transaction. It is acknowledged only once its events are stored, and
 * stored at most once per transaction id, so a retry by the homeserver is never processed
 * twice and a crash after the acknowledgement loses nothing. A malformed event is set aside
 * with its reason rather than failing the whole transaction, which the homeserver would
 * otherwise retry forever while every later event waited behind it.
 */
export class TransactionIntake {
  constructor(
    private readonly store: InboxStore,
    private readonly pump: EventPump,
    private readonly observer: IntakeObserver,
    /** An event larger than this (as JSON) is set aside, not handled: its transaction goes on. */
    private readonly maxEventBytes = DEFAULT_MAX_EVENT_BYTES,
  ) {}

  async receive(txnId: string, body: unknown): Promise<IntakeResult> {
    if (txnId.length === 0 || txnId.length > 255) throw new HandoverError("VALIDATION_FAILED", "transaction id must be 1 to 255 characters");
    if (typeof body !== "object" || body === null || Array.isArray(body)) {
      throw new HandoverError("VALIDATION_FAILED", "transaction body must be a JSON object");
    }
    const rawEvents = (body as { events?: unknown }).events ?? [];
    if (!Array.isArray(rawEvents))
      throw new HandoverError("VALIDATION_FAILED", "transaction 'events' must be an array", [{ path: "events", message: "expected array" }]);
    const events: MatrixEvent[] = [];
    const quarantined: Quarantined[] = [];
    for (const raw of rawEvents) {
      const bytes = Buffer.byteLength(JSON.stringify(raw) ?? "", "utf8");
      const checked =
        bytes > this.maxEventBytes ? `event is ${bytes} bytes, over the limit of ${this.maxEventBytes} (appservice.maxEventBytes)` : checkEvent(raw);
      if (typeof checked === "string") {
        quarantined.push({ reason: checked, event: raw });
        this.observer.quarantined(txnId, checked);
      } else {
        events.push(checked);
      }
    }
    const items = await this.store.accept(txnId, events, quarantined);
    if (items === null) return { duplicate: true, accepted: 0, quarantined: 0 };
    this.pump.enqueue(items);
    return { duplicate: false, accepted: items.length, quarantined: quarantined.length };
  }
}
