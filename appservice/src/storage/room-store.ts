import type { DataSource } from "typeorm";
import type { BotMembership, Room, RoomStore } from "../domain/rooms/room.js";
import type { RoomKind } from "../domain/rooms/room-kind.js";

interface RoomRow {
  room_id: string;
  name: string | null;
  kind: RoomKind | null;
  encrypted: boolean;
  bot_membership: BotMembership;
  classified_by: string | null;
  classified_at: Date | null;
}

const COLUMNS: Record<keyof Omit<Room, "roomId">, string> = {
  name: "name",
  kind: "kind",
  encrypted: "encrypted",
  botMembership: "bot_membership",
  classifiedBy: "classified_by",
  classifiedAt: "classified_at",
};

function toRoom(row: RoomRow): Room {
  return {
    roomId: row.room_id,
    name: row.name,
    kind: row.kind,
    encrypted: row.encrypted,
    botMembership: row.bot_membership,
    classifiedBy: row.classified_by,
    classifiedAt: row.classified_at,
  };
}

export class PostgresRoomStore implements RoomStore {
  constructor(private readonly db: DataSource) {}

  async get(roomId: string): Promise<Room | null> {
    const [row] = (await this.db.query("SELECT * FROM rooms WHERE room_id = $1", [roomId])) as RoomRow[];
    return row ? toRoom(row) : null;
  }

  async list(): Promise<Room[]> {
    const rows = (await this.db.query("SELECT * FROM rooms WHERE bot_membership <> 'leave' ORDER BY lower(coalesce(name, room_id))")) as RoomRow[];
    return rows.map(toRoom);
  }

  async countByKind(): Promise<Record<RoomKind | "unclassified", number>> {
    const rows = (await this.db.query(
      "SELECT coalesce(kind, 'unclassified') AS kind, count(*)::int AS n FROM rooms WHERE bot_membership = 'join' GROUP BY 1",
    )) as { kind: RoomKind | "unclassified"; n: number }[];
    const counts = { clinical: 0, operational: 0, unclassified: 0 };
    for (const row of rows) counts[row.kind] = row.n;
    return counts;
  }

  async upsert(roomId: string, fields: Partial<Omit<Room, "roomId">>): Promise<Room> {
    const entries = Object.entries(fields).filter(([, value]) => value !== undefined) as [keyof typeof COLUMNS, unknown][];
    const columns = entries.map(([key]) => COLUMNS[key]);
    const values = entries.map(([, value]) => value);
    const insertColumns = ["room_id", ...columns].join(", ");
    const placeholders = values.map((_, i) => `$${i + 2}`);
    const updates = columns
      .map((column) => `${column} = EXCLUDED.${column}`)
      .concat("updated_at = now()")
      .join(", ");
    const [row] = (await this.db.query(
      `INSERT INTO rooms (${insertColumns}) VALUES ($1${placeholders.map((p) => `, ${p}`).join("")})
       ON CONFLICT (room_id) DO UPDATE SET ${updates} RETURNING *`,
      [roomId, ...values],
    )) as RoomRow[];
    if (!row) throw new Error(`upsert of room ${roomId} returned no row`);
    return toRoom(row);
  }
}
