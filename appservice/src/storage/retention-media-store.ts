import type { DataSource } from "typeorm";
import type { MediaReference } from "../domain/retention/media.js";
import type { MediaReferenceIndex } from "../domain/retention/ports.js";

/** `retention_media_refs`: which event sent or mentions which media (never the content itself). */
export class PostgresMediaReferences implements MediaReferenceIndex {
  constructor(private readonly db: DataSource) {}

  async record(roomId: string, eventId: string, references: readonly MediaReference[]): Promise<void> {
    if (references.length === 0) return;
    await this.db.query(
      `INSERT INTO retention_media_refs (event_id, mxc_uri, room_id, sent)
       SELECT $1, uri, $2, sent FROM unnest($3::text[], $4::boolean[]) AS r(uri, sent)
       ON CONFLICT (event_id, mxc_uri) DO UPDATE SET sent = retention_media_refs.sent OR EXCLUDED.sent`,
      [eventId, roomId, references.map((reference) => reference.uri), references.map((reference) => reference.sent)],
    );
  }

  async sentBy(eventIds: readonly string[]): Promise<string[]> {
    if (eventIds.length === 0) return [];
    const rows = (await this.db.query("SELECT DISTINCT mxc_uri FROM retention_media_refs WHERE event_id = ANY($1::text[]) AND sent", [[...eventIds]])) as {
      mxc_uri: string;
    }[];
    return rows.map((row) => row.mxc_uri);
  }

  async stillReferenced(uris: readonly string[], purged: readonly string[]): Promise<Set<string>> {
    if (uris.length === 0) return new Set();
    const rows = (await this.db.query(
      "SELECT DISTINCT mxc_uri FROM retention_media_refs WHERE mxc_uri = ANY($1::text[]) AND NOT (event_id = ANY($2::text[]))",
      [[...uris], [...purged]],
    )) as { mxc_uri: string }[];
    return new Set(rows.map((row) => row.mxc_uri));
  }

  async forget(eventIds: readonly string[]): Promise<void> {
    if (eventIds.length === 0) return;
    await this.db.query("DELETE FROM retention_media_refs WHERE event_id = ANY($1::text[])", [[...eventIds]]);
  }
}
