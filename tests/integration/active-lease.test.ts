import pg from "pg";
import { afterEach, describe, expect, inject, it } from "vitest";
import { createLogger } from "../../appservice/src/logger.js";
import { ActiveLease } from "../../appservice/src/storage/active-lease.js";
import { freshDatabase } from "../support/fresh-database.js";
import { eventually } from "../support/matrix-user.js";
import { startStallingTcpProxy } from "../support/stalling-tcp-proxy.js";

/** The lease that decides which of a trust's Handover processes acts (docs/install.md, "Large trusts"), on real PostgreSQL. */
const stack = inject("stack");
const url = await freshDatabase(stack.databaseUrls.a, "active_lease");
const logger = createLogger("silent");
const leases: ActiveLease[] = [];

function lease(scope = "handover@trust-a.test", through = url): ActiveLease {
  const made = new ActiveLease({ url: through, scope, logger, retryMs: 100, checkMs: 100, checkTimeoutMs: 2_000 });
  leases.push(made);
  return made;
}

afterEach(async () => {
  for (const made of leases.splice(0)) await made.release();
});

describe("the active lease", () => {
  it("is held by one process of a trust at a time; another trust's is separate", async () => {
    const first = lease();
    const second = lease();
    expect(await first.tryAcquire()).toBe(true);
    expect(await second.tryAcquire()).toBe(false);
    expect(await lease("handover@trust-b.test").tryAcquire()).toBe(true);
  });

  it("passes to the waiting standby when the active process's connection dies, and the old holder is told", async () => {
    const active = lease();
    const standby = lease();
    await active.acquire();
    let lost: Error | null = null;
    active.watch((reason) => {
      lost = reason;
    });
    let waiting = false;
    const takingOver = standby.acquire(() => {
      waiting = true;
    });
    await eventually("the standby to wait", async () => waiting);
    // What a crash or a network cut does to the active process's session.
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    const { rows } = await admin.query(
      "SELECT pg_terminate_backend(pid) AS ended FROM pg_stat_activity WHERE application_name = 'handover-active-lease' AND pid <> pg_backend_pid() AND pid IN (SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted)",
    );
    await admin.end();
    expect(rows).toHaveLength(1);
    await takingOver;
    await eventually("the old holder to be told it lost the lease", async () => lost !== null);
  });

  it("a clean release hands over without waiting for a crash", async () => {
    const active = lease();
    const standby = lease();
    await active.acquire();
    const takingOver = standby.acquire();
    await active.release();
    await takingOver;
    expect(await lease().tryAcquire()).toBe(false);
  });

  it("a release while a standby is still connecting leaves no lock behind: the wait ends without taking the lease", async () => {
    const standby = lease();
    // Stopped before its first connection is open: what stop() does to a standby just started.
    const waiting = standby.acquire();
    await standby.release();
    await expect(waiting).rejects.toThrow(/stopped/);
    expect(await lease().tryAcquire()).toBe(true);
  });

  it("a standby whose database connection went silent (the host vanished without closing) reconnects and still takes over", async () => {
    const database = new URL(url);
    const proxy = await startStallingTcpProxy(Number(database.port || 5432));
    try {
      const viaProxy = new URL(url);
      viaProxy.hostname = "127.0.0.1";
      viaProxy.port = String(proxy.port);
      const active = lease();
      await active.acquire();
      const standby = lease("handover@trust-a.test", viaProxy.toString());
      let waiting = false;
      const takingOver = standby.acquire(() => {
        waiting = true;
      });
      await eventually("the standby to wait", async () => waiting);
      proxy.stallOpenConnections();
      await active.release();
      await takingOver;
      expect(await lease().tryAcquire()).toBe(false);
    } finally {
      for (const made of leases.splice(0)) await made.release();
      await proxy.close();
    }
  });
});
