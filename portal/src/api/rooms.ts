import { API, type ClassifyRoomRequest, type RoomSummary } from "@handover/appservice/contract";
import { ApiError, request } from "./http";

export async function listRooms(): Promise<RoomSummary[]> {
  const { rooms } = await request(API.listRooms);
  return rooms;
}

/** One room, or null when the bot does not know it. */
export async function findRoom(roomId: string): Promise<RoomSummary | null> {
  try {
    return await request(API.getRoom, { params: { roomId } });
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) return null;
    throw error;
  }
}

export function classifyRoom(roomId: string, change: ClassifyRoomRequest): Promise<RoomSummary> {
  return request(API.classifyRoom, { params: { roomId }, body: change });
}
