import { execFile } from "node:child_process";
import { promisify } from "node:util";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { PostgresAuditStore } from "../../appservice/src/storage/audit-store.js";
import { createDataSource, migrate } from "../../appservice/src/storage/data-source.js";
import { startHandover } from "../support/handover-instance.js";

const run = promisify(execFile);
const stack = inject("stack");
const server = new URL(stack.databaseUrls.a);

/** The compose database, `handover`, as one of the roles docker-compose gives its services. */
function urlAs(role: string): string {
  const url = new URL(server);
  url.username = role;
  url.password = "";
  url.pathname = "/handover";
  return url.toString();
}

let runtime: pg.Client;

beforeAll(async () => {
  // The very script the postgres image runs on a new volume (deploy/postgres/init), against the
  // test cluster: it creates the databases and roles, and the runtime role's privileges.
  await run("bash", ["deploy/postgres/init/10-create-databases.sh"], {
    env: {
      ...process.env,
      PGHOST: server.hostname,
      PGPORT: server.port,
      POSTGRES_USER: decodeURIComponent(server.username),
      POSTGRES_DB: server.pathname.slice(1),
      SYNAPSE_DB_PASSWORD: "test-synapse",
      HANDOVER_DB_PASSWORD: "test-runtime",
      HANDOVER_OWNER_DB_PASSWORD: "test-owner",
    },
  });
  // The compose `migrate` service: migrations as the owner.
  const owner = createDataSource(urlAs("handover_owner"), 1);
  await owner.initialize();
  await migrate(owner);
  await owner.destroy();
  runtime = new pg.Client({ connectionString: urlAs("handover") });
  await runtime.connect();
});

afterAll(async () => {
  await runtime?.end();
});

/** The error PostgreSQL answers the runtime role with, or "allowed". */
async function asRuntime(sql: string): Promise<string> {
  return runtime.query(sql).then(
    () => "allowed",
    (error: Error) => error.message,
  );
}

describe("docker-compose database roles (deploy/postgres/init)", () => {
  it("lets Handover's runtime role append to and read the audit trail, and use the other tables", async () => {
    const db = createDataSource(urlAs("handover"), 2);
    await db.initialize();
    try {
      expect(await db.showMigrations()).toBe(false);
      const store = new PostgresAuditStore(db);
      await store.append({ actor: "@ig.lead:trust-a.test", action: "room.classify", target: "!ward:a", details: {} });
      await store.append({ actor: "@ig.lead:trust-a.test", action: "room.classify", target: "!ward:b", details: {} });
      expect((await store.head())?.seq).toBe(2);
      expect(await asRuntime("INSERT INTO rooms (room_id) VALUES ('!ward:a')")).toBe("allowed");
      expect(await asRuntime("DELETE FROM rooms WHERE room_id = '!ward:a'")).toBe("allowed");
    } finally {
      await db.destroy();
    }
  });

  it("is enough for Handover to start, be ready and record to the audit trail", async () => {
    const handover = await startHandover(stack.trusts.a, urlAs("handover"));
    try {
      const ready = await fetch(`http://127.0.0.1:${handover.webPort}/readyz`);
      expect(ready.status).toBe(200);
      await handover.audit.record({ actor: "@ig.lead:trust-a.test", action: "room.classify", target: "!ward:c", details: {} });
      expect((await handover.audit.verify()).ok).toBe(true);
    } finally {
      await handover.stop();
    }
  });

  it("does not let the runtime role alter the audit table, drop or disable its trigger, or take it over", async () => {
    const notOwner = /must be owner of (table|relation) audit_log/;
    expect(await asRuntime("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_change")).toMatch(notOwner);
    expect(await asRuntime("DROP TRIGGER audit_log_no_change ON audit_log")).toMatch(notOwner);
    expect(await asRuntime("ALTER TABLE audit_log ADD COLUMN note text")).toMatch(notOwner);
    expect(await asRuntime("ALTER TABLE audit_log OWNER TO handover")).toMatch(notOwner);
    expect(await asRuntime("DROP TABLE audit_log")).toMatch(notOwner);
    const denied = /permission denied for table audit_log/;
    expect(await asRuntime("UPDATE audit_log SET actor = 'x' WHERE seq = 1")).toMatch(denied);
    expect(await asRuntime("DELETE FROM audit_log WHERE seq = 2")).toMatch(denied);
    expect(await asRuntime("TRUNCATE audit_log")).toMatch(denied);
    expect(await asRuntime("CREATE TABLE scratch (id int)")).toMatch(/permission denied for schema public/);
    const { rows } = await runtime.query("SELECT tableowner FROM pg_tables WHERE tablename = 'audit_log'");
    expect(rows).toEqual([{ tableowner: "handover_owner" }]);
  });
});

describe("moving an installation with one database role to two (docs/install.md, section 6)", () => {
  it("leaves the old role able to append to the audit trail but not alter it", async () => {
    const superuser = new pg.Client({ connectionString: server.toString() });
    await superuser.connect();
    const legacy = new URL(server);
    legacy.pathname = "/legacy_handover";
    try {
      await superuser.query("CREATE ROLE legacy_runtime LOGIN");
      await superuser.query("CREATE DATABASE legacy_handover OWNER legacy_runtime");
      const before = createDataSource(Object.assign(new URL(legacy), { username: "legacy_runtime" }).toString(), 1);
      await before.initialize();
      await migrate(before);
      await new PostgresAuditStore(before).append({ actor: "@a:t", action: "x", target: "t", details: {} });
      await before.destroy();
      // The documented steps, with this test's role names.
      await run("psql", [legacy.toString(), "-v", "ON_ERROR_STOP=1", "-c", "CREATE ROLE legacy_owner LOGIN"]);
      await run("psql", [
        legacy.toString(),
        "-v",
        "ON_ERROR_STOP=1",
        "-c",
        "ALTER DATABASE legacy_handover OWNER TO legacy_owner",
        "-c",
        "REASSIGN OWNED BY legacy_runtime TO legacy_owner",
      ]);
      await run("psql", [
        legacy.toString(),
        "-v",
        "owner_role=legacy_owner",
        "-v",
        "runtime_role=legacy_runtime",
        "-f",
        "deploy/postgres/init/handover-privileges.psql",
      ]);
      const after = createDataSource(Object.assign(new URL(legacy), { username: "legacy_runtime" }).toString(), 1);
      await after.initialize();
      try {
        await new PostgresAuditStore(after).append({ actor: "@a:t", action: "y", target: "t", details: {} });
        const refused = async (sql: string) =>
          after.query(sql).then(
            () => "allowed",
            (error: Error) => error.message,
          );
        expect(await refused("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_change")).toMatch(/must be owner of (table|relation) audit_log/);
        expect(await refused("UPDATE audit_log SET actor = 'x'")).toMatch(/permission denied for table audit_log/);
        expect(await refused("UPDATE rooms SET name = 'x'")).toBe("allowed");
      } finally {
        await after.destroy();
      }
    } finally {
      await superuser.end();
    }
  });
});
