import type { MatrixEvent } from "../matrix-event.js";
import type { PurgeRecord, RoomHistoryReader } from "./ports.js";

export function isMessage(event: MatrixEvent, botUserId: string): boolean {
  return event.state_key === undefined && event.sender !== botUserId;
}

/** Where the next purge call ends, read from what earlier slices left of the room. */
export type Slice = { kind: "done"; left: string[] } | { kind: "intruder"; eventId: string } | { kind: "purge"; keepFrom: string };

/**
 * Cuts a purge into slices of at most `sliceEvents` planned messages, reading the room from what
 * earlier slices left. Synapse deletes only events of a lower depth than the one it keeps;
 * messages sent at the same time share a depth, so a slice can end up deleting nothing and the
 * next must then reach further: the last slice asked per purge is remembered for that.
 */
export class PurgeSlicer {
  private readonly lastSlice = new Map<string, { firstPlanned: string; keepFrom: string; size: number }>();

  constructor(
    private readonly history: RoomHistoryReader,
    private readonly botUserId: string,
    private readonly sliceEvents: number,
  ) {}

  forget(purgeId: string): void {
    this.lastSlice.delete(purgeId);
  }

  async next(record: PurgeRecord, finalKeepFrom: string): Promise<Slice> {
    const isPlanned = this.plannedTest(record);
    const previous = this.lastSlice.get(record.id);
    for (let size = this.sliceEvents; ; ) {
      let planned = 0;
      let full = false;
      const head = await this.history.eventsOldestFirst(record.roomId, (event) => {
        if (event.event_id === finalKeepFrom || full) return true;
        if (isPlanned(event) && ++planned >= size) full = true;
        return false;
      });
      const left = head.filter(isPlanned).map((event) => event.event_id);
      if (planned === 0) return { kind: "done", left };
      const last = head.at(-1);
      if (!last || (last.event_id !== finalKeepFrom && !full)) {
        throw new Error(`event ${finalKeepFrom}, which purge ${record.id} keeps from, is no longer in room ${record.roomId}`);
      }
      // The first planned message survived the last slice: everything that slice covered shares
      // a depth with the event it kept. Reach further, unless it already reached the purge's end.
      if (previous && previous.firstPlanned === left[0] && size <= previous.size) {
        if (previous.keepFrom === finalKeepFrom) return { kind: "done", left };
        size = previous.size * 2;
        continue;
      }
      // Synapse purges by position, and orders history by depth: a message from a server that was
      // cut off points at old events and lands among them. It was neither planned nor announced.
      if (record.eventIds) {
        const intruder = head.slice(0, -1).find((event) => isMessage(event, this.botUserId) && !isPlanned(event));
        if (intruder) return { kind: "intruder", eventId: intruder.event_id };
      }
      this.lastSlice.set(record.id, { firstPlanned: left[0] as string, keepFrom: last.event_id, size });
      return { kind: "purge", keepFrom: last.event_id };
    }
  }

  plannedTest(record: PurgeRecord): (event: MatrixEvent) => boolean {
    if (record.eventIds) {
      const planned = new Set(record.eventIds);
      return (event) => planned.has(event.event_id);
    }
    // A record written before the planned events were kept: what was sent up to its cutoff.
    return (event) => isMessage(event, this.botUserId) && event.origin_server_ts <= record.cutoff.getTime();
  }
}
