import { describe, expect, it } from "vitest";
import type { MatrixEvent } from "../domain/matrix-event.js";
import type { SynapseAdminClient } from "./admin-client.js";
import { SynapseRetentionAdapter } from "./retention-history.js";

/** A room of `size` events, served as Synapse's admin /messages does (dir=f, a token per page). */
function roomOf(size: number) {
  const events = Array.from(
    { length: size },
    (_, i) => ({ event_id: `$${i}`, type: "m.room.message", sender: "@a:x", origin_server_ts: i, content: {} }) as MatrixEvent,
  );
  const limits: number[] = [];
  const admin = {
    async roomMessages(_roomId: string, options: { dir: "b" | "f"; from?: string | undefined; limit: number }) {
      limits.push(options.limit);
      const start = Number(options.from ?? 0);
      const chunk = events.slice(start, start + options.limit);
      return { chunk, end: String(start + chunk.length) };
    },
  } as unknown as SynapseAdminClient;
  return { admin, limits };
}

describe("retention's history reading", () => {
  it("reads in pages of historyPageSize events, each through the pacer (Synapse builds a page in one go, clinicians wait behind it)", async () => {
    const { admin, limits } = roomOf(250);
    let paced = 0;
    const adapter = new SynapseRetentionAdapter(admin, "x", {
      pageSize: 100,
      pace: async (read) => {
        paced++;
        return read();
      },
    });
    const events = await adapter.eventsOldestFirst("!r:x", (event) => event.event_id === "$240");
    expect(events).toHaveLength(241);
    expect(limits).toEqual([100, 100, 100]);
    expect(paced).toBe(3);
  });

  it("reads pages of 50 by default, never growing them", async () => {
    const { admin, limits } = roomOf(1_000);
    await new SynapseRetentionAdapter(admin, "x").eventsOldestFirst("!r:x", () => false);
    expect(new Set(limits)).toEqual(new Set([50]));
  });
});
