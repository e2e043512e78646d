import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { handoverDeviceInboxModule, handoverFederationModule } from "./federation-module.js";
import type { PostgresServer } from "./postgres.js";
import { startPostgres } from "./postgres.js";
import type { SynapseInfo, SynapseModule, SynapseServer } from "./synapse.js";
import { startSynapse } from "./synapse.js";
import { freePorts, isAlive, onProcessExit, readPid } from "./util.js";

const execFileAsync = promisify(execFile);

export type TrustKey = "a" | "b";
export type TrustInfo = Omit<SynapseInfo, "key"> & { key: TrustKey };

/** Everything a test (or another process) needs to use a running stack; JSON-safe. */
export interface StackInfo<K extends TrustKey = TrustKey> {
  /** The chroot Synapse runs in. */
  root: string;
  /** Host directory holding this run's homeserver files (inside root). */
  runDir: string;
  trusts: Record<K, TrustInfo>;
  /** One empty Handover database per trust. */
  databaseUrls: Record<K, string>;
  postgresMode: PostgresServer["mode"];
  startedAt: string;
  /** Milliseconds from startStack() to ready. */
  startupMs: number;
}

export interface Stack<K extends TrustKey = TrustKey> extends StackInfo<K> {
  /** Idempotent: stops what this stack started (and nothing else) and removes its files. */
  stop(): Promise<void>;
  info(): StackInfo<K>;
}

export interface StackOptions<K extends TrustKey> {
  trusts: readonly K[];
  /** Default: HANDOVER_SYNAPSE_ROOT or ~/.cache/handover/synapse-root (must already be built). */
  root?: string;
  /** Must be inside root (Synapse runs chrooted); default root/var/lib/handover-test/<run-id>. Removed on stop. */
  runDir?: string;
  /** Merged into every homeserver.yaml; a function gives each trust its own. */
  extraSynapseConfig?: Record<string, unknown> | ((key: K) => Record<string, unknown>);
  /** Fixed ports, e.g. for a dev stack whose URLs should not change between starts. */
  ports?: Partial<Record<K, { federation?: number; client?: number; appservice?: number }>>;
  botLocalpart?: string;
  /** Synapse modules for every homeserver; default: Handover's federation gate (fail-open) and device inbox. */
  synapseModules?: readonly SynapseModule[];
  /** Keep homeserver files and logs after stop() (HANDOVER_KEEP_STACK=1 does the same). */
  keepFiles?: boolean;
  /** Each Synapse as main process plus workers (default: HANDOVER_SYNAPSE_WORKERS=1). */
  synapseWorkers?: boolean;
}

const HERE = dirname(fileURLToPath(import.meta.url));

export function defaultSynapseRoot(): string {
  const cache = process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache");
  return process.env.HANDOVER_SYNAPSE_ROOT ?? join(cache, "handover", "synapse-root");
}

/** Runs build-synapse-root.sh (a no-op once the root is cached) and returns the root's path. */
export async function buildSynapseRoot(): Promise<string> {
  try {
    const { stdout } = await execFileAsync("bash", [join(HERE, "build-synapse-root.sh")], {
      maxBuffer: 64 * 1024 * 1024,
      timeout: 30 * 60_000,
    });
    const root = stdout.trim().split("\n").pop() ?? "";
    if (!root || !existsSync(join(root, "usr/bin/python3"))) throw new Error(`unexpected output: ${stdout.slice(-500)}`);
    return root;
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? "";
    throw new Error(`build-synapse-root.sh failed: ${String(error)}\n${stderr.slice(-3000)}`);
  }
}

/** Runs killed with SIGKILL leave their directories: remove those whose owner has gone. */
function removeStaleRuns(base: string): void {
  if (!existsSync(base)) return;
  for (const entry of readdirSync(base)) {
    const pid = readPid(join(base, entry, "owner.pid"));
    if (pid !== undefined && !isAlive(pid)) rmSync(join(base, entry), { recursive: true, force: true });
  }
}

export async function startStack<K extends TrustKey>(opts: StackOptions<K>): Promise<Stack<K>> {
  const started = Date.now();
  const keepFiles = opts.keepFiles ?? process.env.HANDOVER_KEEP_STACK === "1";
  const root = resolve(opts.root ?? defaultSynapseRoot());
  if (!existsSync(join(root, "usr/bin/python3"))) {
    throw new Error(`no Synapse root at ${root}: run tests/harness/build-synapse-root.sh first`);
  }
  const base = join(root, "var/lib/handover-test");
  removeStaleRuns(base);
  const stamp = new Date()
    .toISOString()
    .replace(/[-:.TZ]/g, "")
    .slice(0, 14);
  const runId = `${stamp}-${randomBytes(3).toString("hex")}`;
  const runDir = resolve(opts.runDir ?? join(base, runId));
  mkdirSync(runDir, { recursive: true });
  writeFileSync(join(runDir, "owner.pid"), `${process.pid}\n`);
  const unregisterDir = onProcessExit({
    sync: () => {
      if (!keepFiles) rmSync(runDir, { recursive: true, force: true });
    },
    // The servers' own cleanups stop them; the directory goes in the 'exit' handler, after them.
    async: async () => {},
  });

  // Appservice ports are only bound later, by Handover, so nothing at start-up would notice two
  // trusts sharing one: choose them all here. Synapse's own ports clash loudly and are retried.
  const fixed = Object.values(opts.ports ?? {}).flatMap((p) => Object.values(p as Record<string, number>));
  const appservicePorts = await freePorts(opts.trusts.length, fixed);
  const avoidPorts = [...fixed, ...appservicePorts];
  // The workers shape (docs/install.md, "Large trusts") puts each Synapse on PostgreSQL, so the
  // cluster comes first there; a single process keeps SQLite and starts beside it.
  const workersShape = opts.synapseWorkers ?? process.env.HANDOVER_SYNAPSE_WORKERS === "1";
  const postgres = startPostgres(undefined, { keepFiles });
  const synapseDatabases = workersShape ? await synapseDatabasesOn(postgres, opts.trusts) : undefined;
  const synapses = opts.trusts.map((key, i) => {
    const ports = opts.ports?.[key] ?? {};
    const extra = typeof opts.extraSynapseConfig === "function" ? opts.extraSynapseConfig(key) : opts.extraSynapseConfig;
    return startSynapse({
      root,
      key,
      runDir: join(runDir, `trust-${key}`),
      avoidPorts,
      appservicePort: ports.appservice ?? appservicePorts[i] ?? 0,
      ...(ports.federation ? { federationPort: ports.federation } : {}),
      ...(ports.client ? { clientPort: ports.client } : {}),
      keepFiles,
      ...(extra ? { extraConfig: extra } : {}),
      ...(opts.botLocalpart ? { botLocalpart: opts.botLocalpart } : {}),
      modules: opts.synapseModules ?? [handoverFederationModule(), handoverDeviceInboxModule()],
      ...(synapseDatabases ? { workers: { databaseUrl: synapseDatabases[i] as string } } : {}),
    });
  });
  const results = await Promise.allSettled([postgres, ...synapses]);

  const servers = results.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
  const failure = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
  const stopAll = async () => {
    await Promise.allSettled(servers.map((s) => s.stop()));
    unregisterDir();
    if (!keepFiles && !failure) rmSync(runDir, { recursive: true, force: true });
  };
  if (failure) {
    await stopAll();
    throw failure.reason;
  }

  const pgServer = (await postgres) as PostgresServer;
  const databaseUrls = {} as Record<K, string>;
  const trusts = {} as Record<K, TrustInfo>;
  try {
    for (const [i, key] of opts.trusts.entries()) {
      databaseUrls[key] = i === 0 ? pgServer.url : await pgServer.createDatabase();
      trusts[key] = toTrustInfo(key, (await synapses[i]) as SynapseServer);
    }
  } catch (error) {
    await stopAll();
    throw error;
  }
  const info: StackInfo<K> = {
    root,
    runDir,
    trusts,
    databaseUrls,
    postgresMode: pgServer.mode,
    startedAt: new Date(started).toISOString(),
    startupMs: Date.now() - started,
  };
  let stopping: Promise<void> | undefined;
  return {
    ...info,
    info: () => structuredClone(info),
    stop: () => {
      stopping ??= stopAll();
      return stopping;
    },
  };
}

/** One database per homeserver; a failed start stops the cluster rather than leaving it running. */
async function synapseDatabasesOn(postgres: Promise<PostgresServer>, trusts: readonly TrustKey[]): Promise<string[]> {
  const server = await postgres;
  try {
    return await Promise.all(trusts.map((key) => server.createDatabase(`synapse_${key}_${randomBytes(4).toString("hex")}`)));
  } catch (error) {
    await server.stop();
    throw error;
  }
}

function toTrustInfo(key: TrustKey, server: SynapseServer): TrustInfo {
  const { stop: _stop, ...info } = server;
  return { ...info, key };
}

export function writeStackInfo<K extends TrustKey>(path: string, info: StackInfo<K> | Stack<K>): void {
  const plain = "info" in info && typeof info.info === "function" ? info.info() : info;
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(plain, null, 2)}\n`, { mode: 0o600 });
}

export function readStackInfo<K extends TrustKey = TrustKey>(path: string): StackInfo<K> {
  return JSON.parse(readFileSync(path, "utf8")) as StackInfo<K>;
}
