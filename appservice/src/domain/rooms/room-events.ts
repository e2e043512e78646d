import type { AuditRecorder } from "../audit/audit-trail.js";
import { type BotCommands, isCommand } from "../commands/bot-commands.js";
import { type MatrixEvent, serverNameOf } from "../matrix-event.js";
import { CLASSIFICATION_EVENT_TYPE, type RoomStore } from "./room.js";
import type { RoomClassifier } from "./room-classifier.js";

export interface RoomSnapshot {
  name: string | null;
  encrypted: boolean;
  classification: { content: Record<string, unknown>; sender: string; ts: number } | null;
}

export interface RoomMembershipActions {
  join(roomId: string): Promise<void>;
  leave(roomId: string, reason: string): Promise<void>;
  /** Current room state the bot cares about, read once it has joined. */
  snapshot(roomId: string): Promise<RoomSnapshot>;
}

export interface RoomEventDeps {
  botUserId: string;
  serverName: string;
  rooms: RoomStore;
  classifier: RoomClassifier;
  commands: BotCommands;
  membership: RoomMembershipActions;
  audit: AuditRecorder;
}

/** The server a room belongs to: its creator's, as shown in the invite's stripped state. */
function roomServer(event: MatrixEvent): string {
  const stripped = event.unsigned?.invite_room_state;
  if (Array.isArray(stripped)) {
    const create = stripped.find((item) => typeof item === "object" && item !== null && (item as { type?: unknown }).type === "m.room.create") as
      | { sender?: unknown }
      | undefined;
    if (typeof create?.sender === "string") return serverNameOf(create.sender);
  }
  return serverNameOf(event.room_id) || serverNameOf(event.sender);
}

/** Routes each event of a transaction to what it means for Handover's view of rooms. */
export class RoomEvents {
  constructor(private readonly deps: RoomEventDeps) {}

  async handle(event: MatrixEvent): Promise<void> {
    if (event.sender === this.deps.botUserId && event.type === "m.room.message") return;
    switch (event.type) {
      case "m.room.member":
        if (event.state_key === this.deps.botUserId) await this.botMembership(event);
        return;
      case "m.room.name":
        if (event.state_key === "") await this.deps.rooms.upsert(event.room_id, { name: typeof event.content.name === "string" ? event.content.name : null });
        return;
      case "m.room.encryption":
        if (event.state_key === "") await this.deps.rooms.upsert(event.room_id, { encrypted: true });
        return;
      case CLASSIFICATION_EVENT_TYPE:
        if (event.state_key === "")
          await this.deps.classifier.mirror(event.room_id, {
            content: event.content,
            sender: event.sender,
            ts: event.origin_server_ts,
            eventId: event.event_id,
          });
        return;
      case "m.room.message":
        if (isCommand(event.content.body)) {
          await this.deps.commands.handle({ roomId: event.room_id, sender: event.sender, eventId: event.event_id, body: event.content.body });
        }
        return;
      default:
        return;
    }
  }

  private async botMembership(event: MatrixEvent): Promise<void> {
    const membership = event.content.membership;
    if (membership === "invite") {
      const server = roomServer(event);
      if (server !== this.deps.serverName) {
        // Rooms of other trusts are joined only under a federation agreement (a later capability).
        await this.deps.membership.leave(event.room_id, "Handover only joins rooms on its own trust's server");
        await this.deps.audit.record({ actor: event.sender, action: "bot.invite_declined", target: event.room_id, details: { roomServer: server } });
        return;
      }
      await this.deps.rooms.upsert(event.room_id, { botMembership: "invite" });
      await this.deps.membership.join(event.room_id);
      await this.deps.audit.record({ actor: event.sender, action: "bot.invite_accepted", target: event.room_id });
      return;
    }
    if (membership === "join") {
      const snapshot = await this.deps.membership.snapshot(event.room_id);
      await this.deps.rooms.upsert(event.room_id, { botMembership: "join", name: snapshot.name, encrypted: snapshot.encrypted });
      if (snapshot.classification) {
        await this.deps.classifier.mirror(event.room_id, snapshot.classification);
      }
      return;
    }
    if (membership === "leave" || membership === "ban") {
      await this.deps.rooms.upsert(event.room_id, { botMembership: "leave" });
      await this.deps.audit.record({ actor: event.sender, action: membership === "ban" ? "bot.banned" : "bot.left", target: event.room_id });
    }
  }
}
