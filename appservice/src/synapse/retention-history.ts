import type { MatrixEvent } from "../domain/matrix-event.js";
import { parseMxc } from "../domain/retention/media.js";
import type { HistoryPurger, MediaDeleter, PurgeStatus, RoomHistoryReader } from "../domain/retention/ports.js";
import type { SynapseAdminClient } from "./admin-client.js";

const PAGE = 500;

/** Retention's view of Synapse's admin API: history reading, purges and media deletion. */
export class SynapseRetentionAdapter implements RoomHistoryReader, HistoryPurger, MediaDeleter {
  constructor(
    private readonly admin: SynapseAdminClient,
    private readonly serverName: string,
  ) {}

  async eventsNewestFirst(roomId: string, stop: (event: MatrixEvent) => boolean): Promise<MatrixEvent[]> {
    const events: MatrixEvent[] = [];
    let from: string | undefined;
    for (;;) {
      const page = await this.admin.roomMessages(roomId, { dir: "b", from, limit: PAGE });
      for (const event of page.chunk) {
        events.push(event);
        if (stop(event)) return events;
      }
      if (page.chunk.length === 0 || !page.end || page.end === from) return events;
      from = page.end;
    }
  }

  async eventsOldestFirst(roomId: string, stop: (event: MatrixEvent) => boolean): Promise<MatrixEvent[]> {
    const events: MatrixEvent[] = [];
    let from: string | undefined;
    // Pages grow as the reading goes on: a slice's check usually needs only a few hundred events.
    let limit = 100;
    for (;;) {
      const page = await this.admin.roomMessages(roomId, { dir: "f", from, limit });
      for (const event of page.chunk) {
        events.push(event);
        if (stop(event)) return events;
      }
      if (page.chunk.length === 0 || !page.end || page.end === from) return events;
      from = page.end;
      limit = Math.min(PAGE, limit * 2);
    }
  }

  startPurge(roomId: string, keepFromEventId: string): Promise<string> {
    return this.admin.purgeHistory(roomId, keepFromEventId);
  }

  purgeStatus(purgeId: string): Promise<PurgeStatus> {
    return this.admin.purgeHistoryStatus(purgeId);
  }

  async deleteMedia(mxcUri: string): Promise<boolean> {
    const media = parseMxc(mxcUri);
    // Media held on another trust's server is theirs to delete, under the federation agreement.
    if (!media || media.serverName !== this.serverName) return false;
    await this.admin.deleteMedia(media.serverName, media.mediaId);
    return true;
  }
}
