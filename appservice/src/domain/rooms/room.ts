import type { RoomKind } from "./room-kind.js";

export type BotMembership = "invite" | "join" | "leave";

export interface Room {
  roomId: string;
  name: string | null;
  kind: RoomKind | null;
  encrypted: boolean;
  botMembership: BotMembership;
  classifiedBy: string | null;
  classifiedAt: Date | null;
}

/** Handover's state event holding a room's kind, visible to every client and peer server. */
export const CLASSIFICATION_EVENT_TYPE = "org.handover.classification";

export interface RoomStore {
  get(roomId: string): Promise<Room | null>;
  list(): Promise<Room[]>;
  countByKind(): Promise<Record<RoomKind | "unclassified", number>>;
  /** Creates the room row if needed and applies the given fields. */
  upsert(roomId: string, fields: Partial<Omit<Room, "roomId">>): Promise<Room>;
}
