import { HandoverError } from "../errors.js";
import type { Room } from "../rooms/room.js";
import { isRoomKind } from "../rooms/room-classifier.js";
import type { RoomKind } from "../rooms/room-kind.js";

export const COMMAND_PREFIX = "!handover";
/** Power level a room member needs to change the room's kind: Matrix's moderator level. */
export const MODERATOR_LEVEL = 50;

export interface RoomNotifier {
  /** Posts an m.notice; `idempotencyKey` makes a retried send a no-op at the homeserver. */
  notice(roomId: string, text: string, idempotencyKey: string): Promise<void>;
}

export interface PowerLevelReader {
  userLevel(roomId: string, userId: string): Promise<number>;
}

export interface CommandDeps {
  notifier: RoomNotifier;
  powerLevels: PowerLevelReader;
  classify(roomId: string, kind: RoomKind, actor: string): Promise<Room>;
  room(roomId: string): Promise<Room | null>;
  version: string;
  /** Verbs a capability answers itself, verb -> help line; filled once capabilities are built. */
  capabilityCommands?: ReadonlyMap<string, string>;
}

export interface CommandInvocation {
  roomId: string;
  sender: string;
  eventId: string;
  body: string;
}

const HELP = [
  "Handover keeps this room's clinical record-keeping in order. Commands:",
  "!handover help: this message",
  "!handover status: what Handover knows about this room",
  "!handover classify clinical|operational: set the room's kind (room moderators only)",
].join("\n");

export function isCommand(body: unknown): body is string {
  return typeof body === "string" && (body === COMMAND_PREFIX || body.startsWith(`${COMMAND_PREFIX} `));
}

/** Parses and answers `!handover ...` messages. Every outcome, including refusals, gets a reply. */
export class BotCommands {
  constructor(private readonly deps: CommandDeps) {}

  async handle(invocation: CommandInvocation): Promise<void> {
    const reply = (text: string) => this.deps.notifier.notice(invocation.roomId, text, `reply:${invocation.eventId}`);
    const words = invocation.body.slice(COMMAND_PREFIX.length).trim().split(/\s+/).filter(Boolean);
    const [verb, ...args] = words;
    if (verb !== undefined && this.deps.capabilityCommands?.has(verb.toLowerCase())) return;
    const help = [HELP, ...(this.deps.capabilityCommands?.values() ?? [])].join("\n");
    switch (verb?.toLowerCase()) {
      case undefined:
      case "help":
        return reply(help);
      case "status":
        return reply(await this.status(invocation.roomId));
      case "classify":
        return reply(await this.classify(invocation, args));
      default:
        return reply(`Unknown command "${verb}". ${help}`);
    }
  }

  private async status(roomId: string): Promise<string> {
    const room = await this.deps.room(roomId);
    const kind = room?.kind ? `${room.kind} (set by ${room.classifiedBy ?? "unknown"})` : "not classified yet";
    return [`Handover ${this.deps.version} is active in this room.`, `Room kind: ${kind}.`, `Encrypted: ${room?.encrypted ? "yes" : "no"}.`].join("\n");
  }

  private async classify(invocation: CommandInvocation, args: string[]): Promise<string> {
    const kind = args[0]?.toLowerCase();
    if (args.length !== 1 || !isRoomKind(kind)) return "Usage: !handover classify clinical|operational";
    const level = await this.deps.powerLevels.userLevel(invocation.roomId, invocation.sender);
    if (level < MODERATOR_LEVEL) {
      return `Only room moderators (power level ${MODERATOR_LEVEL} or more) can classify this room; your level is ${level}.`;
    }
    try {
      await this.deps.classify(invocation.roomId, kind, invocation.sender);
    } catch (error) {
      if (error instanceof HandoverError) return `Could not classify this room: ${error.message}`;
      throw error;
    }
    return `This room is now classified as ${kind}.`;
  }
}
