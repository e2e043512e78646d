/**
 * What a room is for: clinical rooms hold patient care (filed to the record, kept until filed);
 * operational rooms do not. Imports nothing: the admin API's contract builds its schemas from it.
 */
export const ROOM_KINDS = ["clinical", "operational"] as const;
export type RoomKind = (typeof ROOM_KINDS)[number];
