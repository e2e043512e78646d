import type { MatrixEvent } from "../domain/matrix-event.js";
import { parseMxc } from "../domain/retention/media.js";
import type { HistoryPurger, MediaDeleter, PurgeStatus, RoomHistoryReader } from "../domain/retention/ports.js";
import type { SynapseAdminClient } from "./admin-client.js";

export interface RetentionAdapterOptions {
  /**
   * Events per page of history. Synapse builds a page in its main process in one go, and every
   * clinician's request waits behind it: read back to back, pages of 500 events held their
   * messages up ~200 ms, pages of 100 about 100 ms; 50 with rests is felt least (docs/performance.md).
   */
  pageSize?: number;
  /** Each page read goes through this (the purge pacer: a rest after each, in proportion). */
  pace?: <T>(read: () => Promise<T>) => Promise<T>;
}

/** Retention's view of Synapse's admin API: history reading, purges and media deletion. */
export class SynapseRetentionAdapter implements RoomHistoryReader, HistoryPurger, MediaDeleter {
  private readonly pageSize: number;
  private readonly pace: <T>(read: () => Promise<T>) => Promise<T>;

  constructor(
    private readonly admin: SynapseAdminClient,
    private readonly serverName: string,
    options: RetentionAdapterOptions = {},
  ) {
    this.pageSize = options.pageSize ?? 50;
    this.pace = options.pace ?? ((read) => read());
  }

  private page(roomId: string, dir: "b" | "f", from: string | undefined, limit: number) {
    return this.pace(() => this.admin.roomMessages(roomId, { dir, from, limit }));
  }

  async eventsNewestFirst(roomId: string, stop: (event: MatrixEvent) => boolean): Promise<MatrixEvent[]> {
    const events: MatrixEvent[] = [];
    let from: string | undefined;
    for (;;) {
      const page = await this.page(roomId, "b", from, this.pageSize);
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
    for (;;) {
      const page = await this.page(roomId, "f", from, this.pageSize);
      for (const event of page.chunk) {
        events.push(event);
        if (stop(event)) return events;
      }
      if (page.chunk.length === 0 || !page.end || page.end === from) return events;
      from = page.end;
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
