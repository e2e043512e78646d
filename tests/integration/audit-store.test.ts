import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { PostgresAuditStore } from "../../appservice/src/storage/audit-store.js";
import { createDataSource } from "../../appservice/src/storage/data-source.js";
import { freshDatabase } from "../support/fresh-database.js";
import { migrateDatabase } from "../support/handover-instance.js";

const stack = inject("stack");
let url: string;

beforeAll(async () => {
  url = await freshDatabase(stack.databaseUrls.a, "audit_store");
  await migrateDatabase(url);
});

describe("appending to the audit chain from one process", () => {
  let watcher: pg.Client;
  beforeAll(async () => {
    watcher = new pg.Client({ connectionString: url });
    await watcher.connect();
  });
  afterAll(async () => {
    await watcher.end();
  });

  it("many appends at once wait in the process, not on the chain's lock: one connection at a time, the rest of the pool free, the chain whole", async () => {
    // A directory run applying 100 kicks audits each one; the connections that serve the event
    // pump and the portal must not be spent queueing for the chain's advisory lock.
    const db = createDataSource(url, 10);
    await db.initialize();
    try {
      const store = new PostgresAuditStore(db);
      let most = 0;
      let watching = true;
      const watch = (async () => {
        while (watching) {
          const { rows } = await watcher.query(
            "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'handover' AND state <> 'idle'",
          );
          most = Math.max(most, rows[0].n);
          await new Promise((resolve) => setTimeout(resolve, 2));
        }
      })();
      await Promise.all(
        Array.from({ length: 60 }, (_, index) =>
          store.append({ actor: "@bench:t", action: "directory.member.remove", target: `!r${index}:t`, details: { index } }),
        ),
      );
      watching = false;
      await watch;
      expect(most).toBeGreaterThan(0);
      expect(most).toBeLessThanOrEqual(1);
      expect((await store.head())?.seq).toBe(60);
      const { rows } = await watcher.query("SELECT count(DISTINCT seq)::int AS n, count(*)::int AS total FROM audit_log");
      expect(rows[0]).toEqual({ n: 60, total: 60 });
    } finally {
      await db.destroy();
    }
  });
});
