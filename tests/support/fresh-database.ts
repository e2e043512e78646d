import { randomBytes } from "node:crypto";
import pg from "pg";

/**
 * A new, empty database on the stack's PostgreSQL server, for one test file. Test files share
 * one stack; without their own database, rules, policies or a deliberately tampered audit trail
 * left by one file would change what the next one sees.
 */
export async function freshDatabase(serverUrl: string, label: string): Promise<string> {
  const name = `handover_${label.replace(/[^a-z0-9_]/gi, "_").toLowerCase()}_${randomBytes(3).toString("hex")}`;
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE "${name}"`);
  } finally {
    await client.end();
  }
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}
