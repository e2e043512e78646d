import type { ChildProcess } from "node:child_process";
import { execFile, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chownSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { freePort, isAlive, onProcessExit, readPid, sleep, tailFile, terminate, withOrphanGuard } from "./util.js";

const execFileAsync = promisify(execFile);

export interface PostgresServer {
  /** URL of the database this call created. */
  url: string;
  /** "external": databases made on the server DATABASE_URL names; "throwaway": our own cluster. */
  mode: "external" | "throwaway";
  /** Creates another empty database on the same server and returns its URL. */
  createDatabase(name?: string): Promise<string>;
  /** Drops what we created (external) or stops and deletes the cluster (throwaway). Idempotent. */
  stop(): Promise<void>;
}

export interface PostgresOptions {
  /** Name of the first database; default handover_test_<random>. */
  database?: string;
  keepFiles?: boolean;
}

export function randomDatabaseName(prefix = "handover_test"): string {
  return `${prefix}_${randomBytes(5).toString("hex")}`;
}

function checkName(name: string): string {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new Error(`unsafe database name ${JSON.stringify(name)}`);
  return name;
}

function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

async function createOn(adminUrl: string, name: string): Promise<string> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE "${checkName(name)}"`);
  } finally {
    await client.end();
  }
  return withDatabase(adminUrl, name);
}

/** Highest installed major version first; HANDOVER_PG_BIN wins. */
export function findPostgresBin(): string {
  const candidates = process.env.HANDOVER_PG_BIN ? [process.env.HANDOVER_PG_BIN] : [];
  const base = "/usr/lib/postgresql";
  if (existsSync(base)) {
    const versions = readdirSync(base)
      .filter((v) => /^\d+$/.test(v))
      .sort((x, y) => Number(y) - Number(x));
    candidates.push(...versions.map((v) => join(base, v, "bin")));
  }
  const onPath = spawnSync("sh", ["-c", "command -v initdb"], {
    encoding: "utf8",
  }).stdout.trim();
  if (onPath) candidates.push(join(onPath, ".."));
  const bin = candidates.find((dir) => existsSync(join(dir, "initdb")) && existsSync(join(dir, "postgres")));
  if (!bin) {
    throw new Error(
      "No PostgreSQL server binaries (initdb, postgres) found under /usr/lib/postgresql/*/bin or on PATH. " +
        "Install them with `apt-get install postgresql`, or set DATABASE_URL to a server the tests may create databases on.",
    );
  }
  return bin;
}

/**
 * With DATABASE_URL set, creates a fresh database there; otherwise runs a throwaway cluster
 * in `dir` (default: a new temporary directory), which stop() deletes.
 */
export async function startPostgres(dir?: string, options: PostgresOptions = {}): Promise<PostgresServer> {
  const first = options.database ?? randomDatabaseName();
  const external = process.env.DATABASE_URL;
  if (external) return startExternal(external, first, options.keepFiles ?? false);
  return startThrowaway(dir, first, options.keepFiles ?? false);
}

async function startExternal(adminUrl: string, first: string, keep: boolean): Promise<PostgresServer> {
  const created: string[] = [];
  const createDatabase = async (name = randomDatabaseName()) => {
    const url = await createOn(adminUrl, name);
    created.push(name);
    return url;
  };
  const url = await createDatabase(first);
  let stopped: Promise<void> | undefined;
  return {
    url,
    mode: "external",
    createDatabase,
    stop: () => {
      stopped ??= (async () => {
        if (keep) return;
        const client = new pg.Client({ connectionString: adminUrl });
        await client.connect();
        try {
          // FORCE: a test that forgot to close its pool must not leave databases behind.
          for (const name of created) await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
        } finally {
          await client.end();
        }
      })();
      return stopped;
    },
  };
}

async function startThrowaway(dirOption: string | undefined, first: string, keepOption: boolean): Promise<PostgresServer> {
  const bin = findPostgresBin();
  const asRoot = userInfo().uid === 0;
  const owner = asRoot ? lookupUser("postgres") : undefined;
  if (!dirOption) removeStaleClusters();
  const dir = dirOption ?? mkdtempSync(join(tmpdir(), TMP_PREFIX));
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "owner.pid"), `${process.pid}\n`);
  const dataDir = join(dir, "data");
  const logPath = join(dir, "postgres.log");
  // PostgreSQL refuses to run as root; as root, run it as the postgres OS user.
  const asOwner = (command: string, args: readonly string[]): [string, string[]] =>
    owner ? ["setpriv", [`--reuid=${owner.uid}`, `--regid=${owner.gid}`, "--init-groups", command, ...args]] : [command, [...args]];
  if (owner) {
    chownSync(dir, owner.uid, owner.gid);
    if (spawnSync(...asOwner("test", ["-w", dir])).status !== 0) {
      throw new Error(`the postgres OS user cannot write ${dir} (is a parent directory private to root?): pick a directory under ${tmpdir()}`);
    }
  }
  let keep = keepOption;
  const cleanupDir = () => {
    if (!keep) rmSync(dir, { recursive: true, force: true });
  };

  try {
    await execFileAsync(
      ...asOwner(join(bin, "initdb"), ["-D", dataDir, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions"]),
      { cwd: dir },
    );
  } catch (error) {
    cleanupDir();
    throw new Error(`initdb failed: ${(error as { stderr?: string }).stderr ?? String(error)}`);
  }

  const port = await freePort();
  const logFd = openSync(logPath, "a");
  if (owner) chownSync(logPath, owner.uid, owner.gid);
  const settings = {
    listen_addresses: "127.0.0.1",
    // A throwaway cluster: durability buys nothing and costs seconds on every test run.
    fsync: "off",
    synchronous_commit: "off",
    full_page_writes: "off",
    max_connections: "200",
  };
  // Immediate shutdown if we die: nothing in a throwaway cluster is worth a clean stop.
  const [command, args] = asOwner(
    ...withOrphanGuard("QUIT", join(bin, "postgres"), [
      ...["-D", dataDir, "-p", String(port), "-k", dir],
      ...Object.entries(settings).flatMap(([k, v]) => ["-c", `${k}=${v}`]),
    ]),
  );
  let child: ChildProcess;
  try {
    child = spawn(command, args, {
      cwd: dir,
      stdio: ["ignore", logFd, logFd],
    });
  } finally {
    closeSync(logFd);
  }
  let spawnError: Error | undefined;
  child.on("error", (error) => {
    spawnError = error;
  });

  let stopped: Promise<void> | undefined;
  const unregister = onProcessExit({
    sync: () => {
      child.kill("SIGQUIT");
      cleanupDir();
    },
    async: () => stop(),
  });
  // SIGINT is PostgreSQL's "fast" shutdown, what `pg_ctl stop -m fast` sends.
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      unregister();
      await terminate(child, "SIGINT");
      cleanupDir();
    })();
    return stopped;
  };

  const adminUrl = `postgres://postgres@127.0.0.1:${port}/postgres`;
  try {
    await waitReady(adminUrl, child, () => spawnError, logPath);
    const createDatabase = (name = randomDatabaseName()) => createOn(adminUrl, name);
    const url = await createDatabase(first);
    return { url, mode: "throwaway", createDatabase, stop };
  } catch (error) {
    keep = true;
    await stop();
    throw error;
  }
}

async function waitReady(url: string, child: ChildProcess, spawnError: () => Error | undefined, logPath: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const error = spawnError();
    const exited = child.exitCode ?? child.signalCode;
    if (error || exited !== null || Date.now() > deadline) {
      const why = error ? `could not start (${error.message})` : exited !== null ? `exited (${exited})` : "did not accept connections within 30 s";
      throw new Error(`PostgreSQL ${why}. Last lines of ${logPath}:\n${tailFile(logPath)}`);
    }
    const client = new pg.Client({ connectionString: url });
    client.on("error", () => {});
    try {
      await client.connect();
      await client.end();
      return;
    } catch {
      await client.end().catch(() => {});
    }
    await sleep(100);
  }
}

const TMP_PREFIX = "handover-pg-";

/** A run killed outright (its cluster stopped by the kernel's parent-death signal) leaves its directory. */
function removeStaleClusters(): void {
  for (const entry of readdirSync(tmpdir())) {
    if (!entry.startsWith(TMP_PREFIX)) continue;
    const dir = join(tmpdir(), entry);
    const owner = readPid(join(dir, "owner.pid"));
    if (owner !== undefined && !isAlive(owner) && !existsSync(join(dir, "data", "postmaster.pid"))) {
      rmSync(dir, { recursive: true, force: true });
    }
  }
}

function lookupUser(name: string): { uid: number; gid: number } {
  const out = spawnSync("id", ["-u", name], { encoding: "utf8" });
  const gid = spawnSync("id", ["-g", name], { encoding: "utf8" });
  if (out.status !== 0 || gid.status !== 0) {
    throw new Error(`running as root but there is no '${name}' OS user to run PostgreSQL as: apt-get install postgresql creates it`);
  }
  return { uid: Number(out.stdout.trim()), gid: Number(gid.stdout.trim()) };
}
