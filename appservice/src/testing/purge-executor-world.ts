import type { MatrixEvent } from "../domain/matrix-event.js";
import type { MediaReference } from "../domain/retention/media.js";
import type { DeletionGate, HistoryPurger, MediaReferenceIndex, PurgeRecord, PurgeStatus, RoomHistoryReader } from "../domain/retention/ports.js";
import { plannedPurge } from "../domain/retention/ports.js";
import { PurgeExecutor } from "../domain/retention/purge-executor.js";
import type { PurgePacer } from "../domain/retention/purge-pacer.js";
import { FakeClock, RecordingAudit } from "./fakes.js";
import { MemoryPurgeLedger } from "./retention-fakes.js";

/** The purge executor's unit tests' world: a fake Synapse, media references, a scripted gate. */
/** A room's history on a pretend homeserver; purging drops message events before the kept one. */
export class FakeSynapse implements RoomHistoryReader, HistoryPurger {
  events: MatrixEvent[] = [];
  purges: string[] = [];
  status: PurgeStatus = "complete";
  statusAsked = 0;
  crashOnStart = false;
  /** Synapse deletes only events of a lower depth than the one kept; events sent at once share one. */
  depths = new Map<string, number>();
  async eventsNewestFirst(_roomId: string, stop: (event: MatrixEvent) => boolean) {
    const out: MatrixEvent[] = [];
    for (const event of [...this.events].reverse()) {
      out.push(event);
      if (stop(event)) break;
    }
    return out;
  }
  async eventsOldestFirst(_roomId: string, stop: (event: MatrixEvent) => boolean) {
    const out: MatrixEvent[] = [];
    for (const event of this.events) {
      out.push(event);
      if (stop(event)) break;
    }
    return out;
  }
  async startPurge(_roomId: string, keepFrom: string) {
    this.purges.push(keepFrom);
    const index = this.events.findIndex((event) => event.event_id === keepFrom);
    const depth = this.depths.get(keepFrom);
    this.events = this.events.filter((event, i) =>
      depth === undefined ? i >= index || event.state_key !== undefined : (this.depths.get(event.event_id) ?? 0) >= depth || event.state_key !== undefined,
    );
    if (this.crashOnStart) throw new Error("process killed");
    return `purge-${this.purges.length}`;
  }
  async purgeStatus() {
    this.statusAsked++;
    return this.status;
  }
}

/** Media references as intake records them: event id -> references. */
export class MemoryReferences implements MediaReferenceIndex {
  readonly byEvent = new Map<string, MediaReference[]>();
  async record(_roomId: string, eventId: string, references: readonly MediaReference[]) {
    this.byEvent.set(eventId, [...references]);
  }
  async sentBy(eventIds: readonly string[]) {
    return eventIds.flatMap((id) => (this.byEvent.get(id) ?? []).filter((reference) => reference.sent).map((reference) => reference.uri));
  }
  async stillReferenced(uris: readonly string[], purged: readonly string[]) {
    const kept = [...this.byEvent].filter(([id]) => !purged.includes(id)).flatMap(([, references]) => references.map((reference) => reference.uri));
    return new Set(uris.filter((uri) => kept.includes(uri)));
  }
  async forget(eventIds: readonly string[]) {
    for (const id of eventIds) this.byEvent.delete(id);
  }
}

/** Allows every step unless `refusal` is set; counts the steps it was asked about. */
export class ScriptedGate implements DeletionGate {
  refusal: string | null = null;
  asked = 0;
  /** A hold placed after this many steps were allowed. */
  holdAfter: { steps: number; reason: string } | null = null;
  async whileAllowed<T>(_record: PurgeRecord, step: () => Promise<T>) {
    this.asked++;
    if (this.holdAfter && this.asked > this.holdAfter.steps) this.refusal = this.holdAfter.reason;
    if (this.refusal !== null) return { allowed: false as const, reason: this.refusal };
    return { allowed: true as const, value: await step() };
  }
}

export const message = (id: string, ts: number, content: Record<string, unknown> = { body: "obs stable" }): MatrixEvent => ({
  event_id: id,
  room_id: "!r:t",
  sender: "@nurse:t",
  type: "m.room.message",
  origin_server_ts: ts,
  content,
});

export interface SetupOptions {
  /** Pauses take their time on the fake clock (a poll can time out). */
  timedPauses?: boolean;
  pacer?: (clock: FakeClock) => PurgePacer;
  /** Each read of history goes through the pacer, as the Synapse adapter's pages do, and takes this long. */
  pacedReadMs?: number;
}

export function setup(captured: ReadonlySet<string> = new Set<string>(), sliceEvents?: number, options: SetupOptions = {}) {
  const clock = new FakeClock();
  const ledger = new MemoryPurgeLedger();
  const synapse = new FakeSynapse();
  const audit = new RecordingAudit();
  const deleted: string[] = [];
  const notices: string[] = [];
  const forgotten: string[] = [];
  const references = new MemoryReferences();
  const gate = new ScriptedGate();
  /** Messages that reach the room while the bot posts its notice (sent after the history was read). */
  const arrivingDuringNotice: MatrixEvent[] = [];
  const pacer = options.pacer?.(clock);
  const read = async <T>(history: () => Promise<T>) => {
    clock.advance(options.pacedReadMs ?? 0);
    return history();
  };
  const history: RoomHistoryReader =
    options.pacedReadMs !== undefined && pacer
      ? {
          eventsOldestFirst: (roomId, stop) => pacer.paced(() => read(() => synapse.eventsOldestFirst(roomId, stop))),
          eventsNewestFirst: (roomId, stop) => pacer.paced(() => read(() => synapse.eventsNewestFirst(roomId, stop))),
        }
      : synapse;
  const executor = new PurgeExecutor({
    ledger,
    history,
    purger: synapse,
    media: {
      deleteMedia: async (uri) => {
        deleted.push(uri);
        return true;
      },
    },
    references,
    gate,
    notifier: {
      postNotice: async (_roomId, text) => {
        synapse.events.push(...arrivingDuringNotice.splice(0));
        notices.push(text);
        synapse.events.push({ ...message(`$notice${notices.length}`, 10_000), sender: "@handover:t" });
        return `$notice${notices.length}`;
      },
    },
    index: {
      recordMessages: async () => {},
      forgetUpTo: async () => {
        forgotten.push("up to the cutoff");
      },
      forgetEvents: async (_roomId, eventIds) => {
        forgotten.push(...eventIds);
      },
      linkSpace: async () => {},
    },
    captured: { capturedAmong: async () => captured },
    audit,
    clock,
    botUserId: "@handover:t",
    pollIntervalMs: 1,
    pollTimeoutMs: 1_000,
    ...(sliceEvents ? { sliceEvents } : {}),
    ...(pacer ? { pacer } : {}),
    sleep: async (ms) => {
      if (options.timedPauses) clock.advance(ms);
    },
  });
  const record = plannedPurge({
    id: "11111111-1111-1111-1111-111111111111",
    roomId: "!r:t",
    policyId: "default-operational",
    policyName: "Default operational policy",
    cutoff: new Date(2_000),
    reason: "past the maximum age",
    actor: "handover:retention",
    filingRef: null,
    filedUpTo: null,
    includesUnfiled: false,
    createdAt: new Date(0),
  });
  return { ledger, synapse, audit, deleted, notices, executor, record, references, gate, arrivingDuringNotice, forgotten, clock };
}
