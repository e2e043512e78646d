import { API, type ClassifyRoomRequest, type RoomSummary } from "@handover/appservice/contract";
import { request } from "./http";

export async function listRooms(): Promise<RoomSummary[]> {
  const { rooms } = await request(API.listRooms);
  return rooms;
}

/**
 * One room, or null when the bot does not know it. The API has no single-room endpoint
 * yet, so this reads the list; callers will not notice when one is added.
 */
export async function findRoom(roomId: string): Promise<RoomSummary | null> {
  const rooms = await listRooms();
  return rooms.find((room) => room.roomId === roomId) ?? null;
}

export function classifyRoom(roomId: string, change: ClassifyRoomRequest): Promise<RoomSummary> {
  return request(API.classifyRoom, { params: { roomId }, body: change });
}
