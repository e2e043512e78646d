import type { RoomKind } from "../../http/contract.js";
import type { AuditRecorder } from "../audit/audit-trail.js";
import type { Clock } from "../clock.js";
import { HandoverError } from "../errors.js";
import { CLASSIFICATION_EVENT_TYPE, type Room, type RoomStore } from "./room.js";

/** Writes a state event into a room as the bot, getting the power to do so if it lacks it. */
export interface RoomStateWriter {
  setState(roomId: string, type: string, stateKey: string, content: Record<string, unknown>): Promise<void>;
}

export interface ClassificationDeps {
  rooms: RoomStore;
  stateWriter: RoomStateWriter;
  audit: AuditRecorder;
  clock: Clock;
}

export function isRoomKind(value: unknown): value is RoomKind {
  return value === "clinical" || value === "operational";
}

/**
 * A room's kind lives in the room (a state event clients and peers can read) and is mirrored
 * in Handover's database. The state event is written first: if that fails nothing changes.
 */
export class RoomClassifier {
  constructor(private readonly deps: ClassificationDeps) {}

  async classify(roomId: string, kind: RoomKind, actor: string, via: "command" | "portal"): Promise<Room> {
    const room = await this.deps.rooms.get(roomId);
    if (room === null) throw new HandoverError("NOT_FOUND", `Handover's bot is not in room ${roomId}`);
    if (room.botMembership !== "join") throw new HandoverError("CONFLICT", `Handover's bot has not joined room ${roomId}`);
    const now = this.deps.clock.now();
    await this.deps.stateWriter.setState(roomId, CLASSIFICATION_EVENT_TYPE, "", {
      kind,
      classified_by: actor,
      classified_at: now.getTime(),
    });
    const updated = await this.deps.rooms.upsert(roomId, { kind, classifiedBy: actor, classifiedAt: now });
    await this.deps.audit.record({
      actor,
      action: "room.classify",
      target: roomId,
      details: { kind, previous: room.kind, via },
    });
    return updated;
  }

  /** Mirrors a classification state event seen in the room (set by us, or by anyone with power). */
  async mirror(roomId: string, content: Record<string, unknown>, sender: string, ts: number): Promise<void> {
    const kind = isRoomKind(content.kind) ? content.kind : null;
    const by = typeof content.classified_by === "string" ? content.classified_by : sender;
    await this.deps.rooms.upsert(roomId, { kind, classifiedBy: kind ? by : null, classifiedAt: kind ? new Date(ts) : null });
  }
}
