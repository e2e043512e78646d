/**
 * The shape large trusts run (docs/install.md, "Large trusts"): one homeserver as a main process
 * plus workers, Redis between them and PostgreSQL under them, behind a router that sends each
 * request where Synapse's docs/workers.md says it may go. Tests meet it on the same two loopback
 * ports as a single process: the router owns them.
 */
import type { ChildProcess } from "node:child_process";
import { spawn } from "node:child_process";
import { closeSync, cpSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { createServer as createHttpServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { connect } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { stringify } from "yaml";
import { sleep, tailFile, terminate, withOrphanGuard } from "./util.js";

const HERE = dirname(fileURLToPath(import.meta.url));

/** Each worker and what it takes off the main process. */
export const WORKERS = [
  { name: "generic1", serves: "client" },
  { name: "generic2", serves: "federation" },
  { name: "federation_sender1", serves: "outbound federation" },
  { name: "appservice1", serves: "application service transactions" },
  { name: "background1", serves: "background tasks" },
] as const;
export type WorkerName = (typeof WORKERS)[number]["name"];

export interface WorkerPorts {
  mainHttp: number;
  replication: number;
  redis: number;
  workers: Record<WorkerName, number>;
}

/** What homeserver.yaml gains (and replaces) for the workers shape. */
export function mainProcessConfig(o: {
  databaseUrl: string;
  ports: WorkerPorts;
  dir: string;
  xForwarded: boolean;
  replicationSecret: string;
}): Record<string, unknown> {
  const db = new URL(o.databaseUrl);
  return {
    listeners: [
      {
        port: o.ports.mainHttp,
        bind_addresses: ["127.0.0.1"],
        type: "http",
        tls: false,
        x_forwarded: o.xForwarded,
        resources: [{ names: ["client", "federation", "keys", "openid", "media"], compress: false }],
      },
      { port: o.ports.replication, bind_addresses: ["127.0.0.1"], type: "http", resources: [{ names: ["replication"] }] },
    ],
    // Workers share one database; Synapse refuses SQLite with workers.
    database: {
      name: "psycopg2",
      // The harness's throwaway cluster is initialised with the machine's locale, not C.
      allow_unsafe_locale: true,
      args: {
        user: decodeURIComponent(db.username),
        password: decodeURIComponent(db.password),
        database: db.pathname.slice(1),
        host: db.hostname,
        port: Number(db.port || 5432),
        cp_min: 1,
        cp_max: 5,
      },
    },
    redis: { enabled: true, host: "127.0.0.1", port: o.ports.redis },
    worker_replication_secret: o.replicationSecret,
    instance_map: { main: { host: "127.0.0.1", port: o.ports.replication } },
    federation_sender_instances: ["federation_sender1"],
    notify_appservices_from_worker: "appservice1",
    run_background_tasks_on: "background1",
    pid_file: `${o.dir}/homeserver.pid`,
  };
}

function workerConfig(name: WorkerName, port: number, xForwarded: boolean): Record<string, unknown> {
  const serves = WORKERS.find((w) => w.name === name)?.serves;
  const resources = serves === "client" || serves === "federation" ? ["client", "federation"] : ["health"];
  return {
    worker_app: "synapse.app.generic_worker",
    worker_name: name,
    worker_listeners: [{ type: "http", port, bind_addresses: ["127.0.0.1"], x_forwarded: xForwarded, resources: [{ names: resources }] }],
  };
}

export interface WorkerProcesses {
  stop(): Promise<void>;
  /** Host paths of each process's log, for a failing test to read. */
  logs: Record<string, string>;
}

/**
 * Starts Redis and the workers (the main process is already up and has migrated the database),
 * and waits until each answers /health.
 */
export async function startWorkers(o: {
  root: string;
  runDir: string;
  dirInRoot: string;
  ports: WorkerPorts;
  xForwarded: boolean;
  env: Record<string, string>;
  timeoutMs: number;
}): Promise<WorkerProcesses> {
  const children: ChildProcess[] = [];
  const logs: Record<string, string> = {};
  const stop = async () => {
    await Promise.allSettled(children.map((child) => terminate(child)));
  };
  try {
    for (const worker of WORKERS) {
      const configName = `worker-${worker.name}.yaml`;
      writeYaml(join(o.runDir, configName), workerConfig(worker.name, o.ports.workers[worker.name], o.xForwarded));
      const logPath = join(o.runDir, `${worker.name}.log`);
      logs[worker.name] = logPath;
      children.push(
        spawnInRoot(
          o.root,
          ["python3", "-m", "synapse.app.generic_worker", "-c", `${o.dirInRoot}/homeserver.yaml`, "-c", `${o.dirInRoot}/${configName}`],
          logPath,
          o.env,
        ),
      );
    }
    await Promise.all(
      WORKERS.map((worker, i) =>
        waitHealthy(`http://127.0.0.1:${o.ports.workers[worker.name]}/health`, children[i] as ChildProcess, logs[worker.name] as string, o.timeoutMs),
      ),
    );
    return { stop, logs };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Redis from Debian, inside the root; nothing persisted. */
export async function startRedis(root: string, runDir: string, port: number): Promise<{ stop(): Promise<void> }> {
  const logPath = join(runDir, "redis.log");
  const child = spawnInRoot(root, ["redis-server", "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], logPath, {});
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`redis-server exited (${child.exitCode}):\n${tailFile(logPath)}`);
    if (await answersPing(port)) return { stop: () => terminate(child) };
    if (Date.now() > deadline) {
      await terminate(child);
      throw new Error(`redis-server did not answer on ${port}:\n${tailFile(logPath)}`);
    }
    await sleep(100);
  }
}

function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.setTimeout(1000);
    socket.once("connect", () => socket.write("PING\r\n"));
    socket.once("data", (data) => {
      socket.destroy();
      resolve(data.toString().startsWith("+PONG"));
    });
    socket.once("error", () => resolve(false));
    socket.once("timeout", () => {
      socket.destroy();
      resolve(false);
    });
  });
}

/** The harness's stand-in for txredisapi (see the module's docstring), put on the workers' PYTHONPATH. */
export function installRedisClient(runDir: string): string {
  const target = join(runDir, "python", "redis-client");
  cpSync(join(HERE, "synapse-workers"), target, { recursive: true });
  return target;
}

function spawnInRoot(root: string, argv: string[], logPath: string, env: Record<string, string>): ChildProcess {
  const logFd = openSync(logPath, "a");
  try {
    const [command, args] = withOrphanGuard("TERM", "chroot", [root, ...argv]);
    const child = spawn(command, args, {
      stdio: ["ignore", logFd, logFd],
      env: { PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", LANG: "C.UTF-8", HOME: "/root", PYTHONUNBUFFERED: "1", ...env },
    });
    child.on("error", () => {});
    return child;
  } finally {
    closeSync(logFd);
  }
}

async function waitHealthy(url: string, child: ChildProcess, logPath: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`Synapse worker exited during start-up:\n${tailFile(logPath)}`);
    try {
      if ((await fetch(url, { signal: AbortSignal.timeout(2000) })).ok) return;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) throw new Error(`Synapse worker at ${url} did not become healthy:\n${tailFile(logPath)}`);
    await sleep(150);
  }
}

function writeYaml(path: string, value: Record<string, unknown>): void {
  writeFileSync(path, stringify(value));
}

// Synapse docs/workers.md, "synapse.app.generic_worker": what a generic worker may serve. The
// admin API, purges among it, stays on the main process (matrix-org/synapse#13604).
export const CLIENT_ON_WORKER: readonly RegExp[] = [
  /^\/_matrix\/client\/(r0|v3)\/sync$/,
  /^\/_matrix\/client\/(api\/v1|r0|v3)\/events$/,
  /^\/_matrix\/client\/(api\/v1|r0|v3|unstable)\/rooms\/[^/]+\/(joined_members|members|state|context\/.*|event\/.*)$/,
  /^\/_matrix\/client\/(r0|v3|unstable)\/account\/whoami$/,
  /^\/_matrix\/client\/(api\/v1|r0|v3|unstable)\/joined_rooms$/,
  /^\/_matrix\/client\/versions$/,
  /^\/_matrix\/client\/(r0|v3|unstable)\/keys\/(query|changes|claim|upload)/,
  /^\/_matrix\/client\/(api\/v1|r0|v3|unstable)\/login$/,
  /^\/_matrix\/client\/(api\/v1|r0|v3|unstable)\/rooms\/.*\/(send|state\/|redact|join$|invite$|leave$|kick$|ban$|unban$)/,
  /^\/_matrix\/client\/(api\/v1|r0|v3|unstable)\/join\//,
  /^\/_matrix\/client\/(api\/v1|r0|v3|unstable)\/profile\//,
  /^\/_matrix\/client\/(api\/v1|r0|v3|unstable)\/createRoom$/,
];
export const FEDERATION_ON_WORKER: readonly RegExp[] = [
  /^\/_matrix\/federation\/v1\/(version|event\/|state\/|state_ids\/|backfill\/|get_missing_events\/|query\/|make_join\/|make_leave\/|event_auth\/|user\/devices\/|send\/)/,
  /^\/_matrix\/federation\/(v1|v2)\/(send_join|send_leave|invite)\//,
  /^\/_matrix\/key\/v2\/query/,
];

export interface Router {
  /** Requests each process served, by process name. */
  served: Record<string, number>;
  close(): Promise<void>;
}

/**
 * The reverse proxy a trust puts in front: the client port (plain HTTP, as in the single-process
 * harness) and the federation port (TLS, terminated here) go to a generic worker where Synapse
 * allows it, and to the main process otherwise.
 */
export async function startRouter(o: { clientPort: number; federationPort: number; ports: WorkerPorts; runDir: string }): Promise<Router> {
  const served: Record<string, number> = {};
  const forward = (target: { name: string; port: number }) => (req: IncomingMessage, res: ServerResponse) => {
    served[target.name] = (served[target.name] ?? 0) + 1;
    const upstream = httpRequest({ host: "127.0.0.1", port: target.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on("error", (error) => {
      if (!res.headersSent) res.writeHead(502, { "content-type": "application/json" });
      res.end(JSON.stringify({ errcode: "M_UNKNOWN", error: `router: ${target.name} unreachable: ${error.message}` }));
    });
    req.pipe(upstream);
  };
  const main = { name: "main", port: o.ports.mainHttp };
  const clientWorker = { name: "generic1", port: o.ports.workers.generic1 };
  const federationWorker = { name: "generic2", port: o.ports.workers.generic2 };
  const route = (patterns: readonly RegExp[], worker: { name: string; port: number }) => (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    forward(patterns.some((pattern) => pattern.test(path)) ? worker : main)(req, res);
  };
  const client = createHttpServer(route(CLIENT_ON_WORKER, clientWorker));
  const federation = createHttpsServer(
    { key: readFileSync(join(o.runDir, "tls.key")), cert: readFileSync(join(o.runDir, "tls.crt")) },
    route(FEDERATION_ON_WORKER, federationWorker),
  );
  await Promise.all([listen(client, o.clientPort), listen(federation, o.federationPort)]);
  return {
    served,
    close: async () => {
      await Promise.all([closeServer(client), closeServer(federation)]);
    },
  };
}

function listen(server: Server, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve());
  });
}

function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}
