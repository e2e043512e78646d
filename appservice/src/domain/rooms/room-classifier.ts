import type { Role } from "../access/roles.js";
import type { AuditRecorder } from "../audit/audit-trail.js";
import type { Clock } from "../clock.js";
import { HandoverError } from "../errors.js";
import { CLASSIFICATION_EVENT_TYPE, type Room, type RoomStore } from "./room.js";
import { ROOM_KINDS, type RoomKind } from "./room-kind.js";

/** Writes a state event into a room as the bot, getting the power to do so if it lacks it. */
export interface RoomStateWriter {
  setState(roomId: string, type: string, stateKey: string, content: Record<string, unknown>): Promise<void>;
}

/** Tells a room what Handover did (an m.notice); `idempotencyKey` makes a retried send a no-op. */
export interface ClassificationReporter {
  notice(roomId: string, text: string, idempotencyKey: string): Promise<void>;
}

export interface ClassificationDeps {
  rooms: RoomStore;
  stateWriter: RoomStateWriter;
  reporter: ClassificationReporter;
  audit: AuditRecorder;
  clock: Clock;
  botUserId: string;
  /** The person's role in Handover's access config (`access.roles`), if any. */
  roleOf(userId: string): Role | undefined;
}

/** A classification state event as seen in the room. */
export interface ClassificationEvent {
  content: Record<string, unknown>;
  sender: string;
  ts: number;
  /** Absent when read from room state on join rather than from a transaction. */
  eventId?: string;
}

export function isRoomKind(value: unknown): value is RoomKind {
  return (ROOM_KINDS as readonly unknown[]).includes(value);
}

/** Roles that may take a room out of clinical (which lifts retention's unfiled-content protection). */
const MAY_LIFT_CLINICAL: readonly Role[] = ["ig-lead", "admin"];

const liftsClinical = (previous: RoomKind | null, next: RoomKind | null) => previous === "clinical" && next !== "clinical";

/**
 * A room's kind lives in the room (a state event clients and peers can read) and is mirrored
 * in Handover's database. The state event is written first: if that fails nothing changes.
 * Leaving clinical lifts the protection of unfiled clinical content, so it needs an ig-lead
 * or admin: by command or portal it is refused, and as a raw state event it is reverted.
 */
export class RoomClassifier {
  constructor(private readonly deps: ClassificationDeps) {}

  async classify(roomId: string, kind: RoomKind, actor: string, via: "command" | "portal"): Promise<Room> {
    const room = await this.deps.rooms.get(roomId);
    if (room === null) throw new HandoverError("NOT_FOUND", `Handover's bot is not in room ${roomId}`);
    if (room.botMembership !== "join") throw new HandoverError("CONFLICT", `Handover's bot has not joined room ${roomId}`);
    if (liftsClinical(room.kind, kind) && !this.mayLiftClinical(actor)) {
      await this.deps.audit.record({ actor, action: "room.classify_refused", target: roomId, details: { kind, previous: room.kind, via } });
      throw new HandoverError(
        "FORBIDDEN",
        "a clinical room becomes operational only by an ig-lead or admin (Handover's access config), because it lifts the protection of unfiled clinical content",
      );
    }
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

  /**
   * Mirrors a classification state event seen in the room. The bot's own events (written by
   * classify() or a revert, already audited) are taken as they are; anyone else's is attributed
   * to its sender, whatever `classified_by` it claims, and audited.
   */
  async mirror(roomId: string, event: ClassificationEvent): Promise<void> {
    const kind = isRoomKind(event.content.kind) ? event.content.kind : null;
    if (event.sender === this.deps.botUserId) {
      const by = typeof event.content.classified_by === "string" ? event.content.classified_by : event.sender;
      await this.deps.rooms.upsert(roomId, { kind, classifiedBy: kind ? by : null, classifiedAt: kind ? new Date(event.ts) : null });
      return;
    }
    const room = await this.deps.rooms.get(roomId);
    const previous = room?.kind ?? null;
    const claimedBy = typeof event.content.classified_by === "string" && event.content.classified_by !== event.sender ? event.content.classified_by : undefined;
    const details = { kind, previous, via: "state-event", ...(claimedBy ? { claimedBy } : {}), ...(event.eventId ? { eventId: event.eventId } : {}) };
    if (room && liftsClinical(previous, kind) && !this.mayLiftClinical(event.sender)) {
      await this.revert(room, event, details);
      return;
    }
    await this.deps.rooms.upsert(roomId, { kind, classifiedBy: kind ? event.sender : null, classifiedAt: kind ? new Date(event.ts) : null });
    await this.deps.audit.record({ actor: event.sender, action: "room.classify", target: roomId, details });
  }

  /** Puts the clinical classification back as it was; the database never left clinical. */
  private async revert(room: Room, event: ClassificationEvent, details: Record<string, unknown>): Promise<void> {
    await this.deps.stateWriter.setState(room.roomId, CLASSIFICATION_EVENT_TYPE, "", {
      kind: "clinical",
      classified_by: room.classifiedBy ?? this.deps.botUserId,
      classified_at: (room.classifiedAt ?? this.deps.clock.now()).getTime(),
    });
    await this.deps.audit.record({ actor: event.sender, action: "room.classification_reverted", target: room.roomId, details });
    const attempted = isRoomKind(event.content.kind) ? `as ${event.content.kind}` : "without a valid kind";
    await this.deps.reporter.notice(
      room.roomId,
      `${event.sender} set this room's classification ${attempted}, but only an ig-lead or admin can take a room out of clinical (it lifts the protection of unfiled clinical content). Handover has set it back to clinical; the change is in the audit trail.`,
      `classification-reverted:${event.eventId ?? `${event.sender}:${event.ts}`}`,
    );
  }

  private mayLiftClinical(userId: string): boolean {
    const role = this.deps.roleOf(userId);
    return role !== undefined && MAY_LIFT_CLINICAL.includes(role);
  }
}
