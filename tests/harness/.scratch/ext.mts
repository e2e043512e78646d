import pg from "pg";
import { startPostgres } from "../postgres.ts";
const base = await startPostgres();
const admin = base.url.replace(/\/[^/]+$/, "/postgres");
process.env.DATABASE_URL = admin;
const ext = await startPostgres();
const second = await ext.createDatabase();
console.log(ext.mode, ext.url, second);
const pool = new pg.Pool({ connectionString: second }); pool.on("error", () => {}); await pool.query("select 1"); // left open on purpose: FORCE drop
await ext.stop();
const c = new pg.Client({ connectionString: admin }); await c.connect();
console.log((await c.query("select datname from pg_database order by 1")).rows.map((r) => r.datname));
await c.end(); await pool.end().catch(() => {});
await base.stop();
