import type { ChildProcess } from "node:child_process";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, cpSync, mkdirSync, openSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { stringify } from "yaml";
import type { Registration } from "../../appservice/src/matrix/registration.js";
import { buildRegistration, renderRegistration } from "../../appservice/src/matrix/registration.js";
import type { MatrixUser } from "./client.js";
import { login, registerUser } from "./client.js";
import { homeserverConfig, makeTlsCertificate, pathInRoot, signingKey } from "./synapse-config.js";
import type { Router, WorkerPorts, WorkerProcesses } from "./synapse-workers.js";
import { installRedisClient, mainProcessConfig, startRedis, startRouter, startWorkers, WORKERS } from "./synapse-workers.js";
import { deepMerge, freePortExcept, freePorts, onProcessExit, sleep, tailFile, terminate, withOrphanGuard } from "./util.js";

export type { MatrixUser, SynapseEndpoint } from "./client.js";
export { login, matrixRequest, registerUser } from "./client.js";

export interface SynapseOptions {
  /** The chroot holding matrix-synapse (build-synapse-root.sh prints it). */
  root: string;
  /** Short name of the trust, e.g. "a": the host name becomes trust-a.test. */
  key: string;
  /** Host path of this homeserver's files; must lie inside `root` because Synapse runs chrooted. */
  runDir: string;
  /** Must resolve to 127.0.0.1 inside the root (its /etc/hosts). */
  hostname?: string;
  federationPort?: number;
  clientPort?: number;
  appservicePort?: number;
  /** Ports other homeservers of the same run already took. */
  avoidPorts?: readonly number[];
  botLocalpart?: string;
  registrationId?: string;
  extraConfig?: Record<string, unknown>;
  /** Believe X-Forwarded-For on the client listener (`x_forwarded: true`). */
  xForwarded?: boolean;
  /** Synapse modules: each host directory is copied into the run directory (inside the chroot) and put on PYTHONPATH. */
  modules?: readonly SynapseModule[];
  /** Extra environment for the Synapse process. */
  env?: Record<string, string>;
  startTimeoutMs?: number;
  /** Leave the run directory on stop, to read logs after a failure. */
  keepFiles?: boolean;
  /** Run as main process plus workers, Redis and a router (synapse-workers.ts) on this PostgreSQL database. */
  workers?: { databaseUrl: string };
  /**
   * For a homeserver started again on a database it used before (a cached bench fixture): a
   * fixed server name (default: hostname:federationPort), its signing key, and the admin's
   * password (the admin is logged in when it is already registered).
   */
  reuse?: { serverName: string; signingKey: string; adminPassword: string };
}

/** What a test needs to reach one homeserver; all of it survives JSON. */
export interface SynapseInfo {
  key: string;
  serverName: string;
  hostname: string;
  clientUrl: string;
  clientPort: number;
  federationPort: number;
  /** Synapse sends transactions to http://127.0.0.1:<appservicePort>: start Handover there. */
  appservicePort: number;
  registration: Registration;
  /** Host path of the registration YAML. */
  registrationPath: string;
  /** Path of the config inside the root (what `synapse_register_new_matrix_user -c` takes). */
  configPathInRoot: string;
  configPath: string;
  registrationSharedSecret: string;
  admin: MatrixUser;
  synapseLogPath: string;
  runDir: string;
  pid: number;
}

export interface SynapseServer extends SynapseInfo {
  stop(): Promise<void>;
}

export const ADMIN_LOCALPART = "handover-admin";

export interface SynapseModule {
  /** Host directory holding the module's Python file(s). */
  directory: string;
  /** Dotted class name for homeserver.yaml's `modules:`. */
  module: string;
  /** The module's config, given the homeserver's directory as Synapse sees it (inside the chroot). */
  config(dirInRoot: string): Record<string, unknown>;
}

/**
 * Ports we choose are free when chosen, but another process (or a homeserver starting in
 * parallel) can bind one before Synapse does: then start again with new ones.
 */
export async function startSynapse(opts: SynapseOptions): Promise<SynapseServer> {
  const retryable = opts.federationPort === undefined && opts.clientPort === undefined;
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(opts);
    } catch (error) {
      if (!(retryable && attempt < 3 && error instanceof PortClash)) throw error;
      rmSync(opts.runDir, { recursive: true, force: true });
    }
  }
}

class PortClash extends Error {}

async function startOnce(opts: SynapseOptions): Promise<SynapseServer> {
  const hostname = opts.hostname ?? `trust-${opts.key}.test`;
  const avoid = [...(opts.avoidPorts ?? []), ...[opts.federationPort, opts.clientPort, opts.appservicePort].filter((p) => p !== undefined)];
  // The server name embeds the federation port (no .well-known needed), so it is fixed first.
  const federationPort = opts.federationPort ?? (await freePortExcept(avoid));
  const clientPort = opts.clientPort ?? (await freePortExcept([...avoid, federationPort]));
  const appservicePort = opts.appservicePort ?? (await freePortExcept([...avoid, federationPort, clientPort]));
  const serverName = opts.reuse?.serverName ?? `${hostname}:${federationPort}`;
  const clientUrl = `http://127.0.0.1:${clientPort}`;

  const runDir = resolve(opts.runDir);
  const dir = pathInRoot(opts.root, runDir);
  mkdirSync(join(runDir, "media"), { recursive: true });
  const registration = buildRegistration({
    id: opts.registrationId ?? "handover",
    url: `http://127.0.0.1:${appservicePort}`,
    serverName,
    botLocalpart: opts.botLocalpart ?? "handover",
  });
  const registrationPath = join(runDir, "handover-registration.yaml");
  writeFileSync(registrationPath, renderRegistration(registration));
  writeFileSync(join(runDir, "signing.key"), opts.reuse?.signingKey ?? signingKey(), { mode: 0o600 });
  await makeTlsCertificate(runDir, hostname);
  const sharedSecret = randomBytes(24).toString("hex");
  const pythonPath = (opts.modules ?? []).map((mod, i) => {
    const target = join(runDir, "python", String(i));
    cpSync(mod.directory, target, { recursive: true });
    return `${dir}/python/${i}`;
  });
  const modules = (opts.modules ?? []).map((mod) => ({ module: mod.module, config: mod.config(dir) }));
  let workerPorts: WorkerPorts | undefined;
  if (opts.workers) {
    const [mainHttp, replication, redis, ...workers] = await freePorts(3 + WORKERS.length, [...avoid, federationPort, clientPort, appservicePort]);
    workerPorts = {
      mainHttp: mainHttp as number,
      replication: replication as number,
      redis: redis as number,
      workers: Object.fromEntries(WORKERS.map((worker, i) => [worker.name, workers[i] as number])) as WorkerPorts["workers"],
    };
    pythonPath.push(pathInRoot(opts.root, installRedisClient(runDir)));
  }
  const config = deepMerge(
    deepMerge(
      homeserverConfig({
        serverName,
        clientPort,
        federationPort,
        dir,
        registrationPath: `${dir}/handover-registration.yaml`,
        sharedSecret,
        ...(opts.xForwarded ? { xForwarded: true } : {}),
      }),
      opts.workers && workerPorts
        ? mainProcessConfig({
            databaseUrl: opts.workers.databaseUrl,
            ports: workerPorts,
            dir,
            xForwarded: opts.xForwarded ?? false,
            replicationSecret: randomBytes(16).toString("hex"),
          })
        : {},
    ),
    { ...(modules.length > 0 ? { modules } : {}), ...opts.extraConfig },
  );
  const configPath = join(runDir, "homeserver.yaml");
  writeFileSync(configPath, stringify(config));

  const synapseLogPath = join(runDir, "homeserver.log");
  const environment = {
    PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    LANG: "C.UTF-8",
    HOME: "/root",
    PYTHONUNBUFFERED: "1",
    ...(pythonPath.length > 0 ? { PYTHONPATH: pythonPath.join(":") } : {}),
    ...opts.env,
  };
  // The workers shape: Redis before the main process (it connects at start), workers after it
  // (it migrates the database they share), the router last.
  const redis = workerPorts ? await startRedis(opts.root, runDir, workerPorts.redis) : undefined;
  let workers: WorkerProcesses | undefined;
  let router: Router | undefined;
  const logFd = openSync(synapseLogPath, "a");
  let child: ChildProcess;
  try {
    const [command, args] = withOrphanGuard("TERM", "chroot", [...[opts.root, "python3", "-m", "synapse.app.homeserver", "-c", `${dir}/homeserver.yaml`]]);
    child = spawn(command, args, {
      stdio: ["ignore", logFd, logFd],
      env: environment,
    });
  } finally {
    closeSync(logFd);
  }
  // An 'error' event (chroot missing) must not crash the process; waitReady reports it.
  let spawnError: Error | undefined;
  child.on("error", (error) => {
    spawnError = error;
  });

  let keepFiles = opts.keepFiles ?? false;
  let stopped: Promise<void> | undefined;
  const unregister = onProcessExit({
    sync: () => {
      child.kill("SIGKILL");
      if (!keepFiles) rmSync(runDir, { recursive: true, force: true });
    },
    async: () => stop(),
  });
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      unregister();
      await router?.close();
      await workers?.stop();
      await terminate(child);
      await redis?.stop();
      if (!keepFiles) rmSync(runDir, { recursive: true, force: true });
    })();
    return stopped;
  };

  try {
    if (workerPorts) {
      const timeoutMs = opts.startTimeoutMs ?? 180_000;
      await waitReady(`http://127.0.0.1:${workerPorts.mainHttp}`, child, () => spawnError, synapseLogPath, timeoutMs);
      workers = await startWorkers({
        root: opts.root,
        runDir,
        dirInRoot: dir,
        ports: workerPorts,
        xForwarded: opts.xForwarded ?? false,
        env: environment,
        timeoutMs,
      });
      router = await startRouter({ clientPort, federationPort, ports: workerPorts, runDir });
    }
    await waitReady(clientUrl, child, () => spawnError, synapseLogPath, opts.startTimeoutMs ?? 90_000);
    const endpoint = { clientUrl, registrationSharedSecret: sharedSecret };
    const admin = opts.reuse
      ? await registerUser(endpoint, ADMIN_LOCALPART, opts.reuse.adminPassword, { admin: true }).catch(() =>
          login(endpoint, ADMIN_LOCALPART, (opts.reuse as { adminPassword: string }).adminPassword),
        )
      : await registerUser(endpoint, ADMIN_LOCALPART, randomBytes(12).toString("hex"), { admin: true });
    return {
      key: opts.key,
      serverName,
      hostname,
      clientUrl,
      clientPort,
      federationPort,
      appservicePort,
      registration,
      registrationPath,
      configPath,
      configPathInRoot: `${dir}/homeserver.yaml`,
      registrationSharedSecret: sharedSecret,
      admin,
      synapseLogPath,
      runDir,
      pid: child.pid ?? -1,
      stop,
    };
  } catch (error) {
    // Keep the log of a homeserver that never came up: the error names it.
    keepFiles = true;
    await stop();
    throw error;
  }
}

async function waitReady(clientUrl: string, child: ChildProcess, spawnError: () => Error | undefined, logPath: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const fail = (why: string) => new Error(`Synapse at ${clientUrl} ${why}. Last lines of ${logPath}:\n${tailFile(logPath)}`);
  for (;;) {
    const error = spawnError();
    if (error) throw fail(`could not be started (${error.message})`);
    if (child.exitCode !== null || child.signalCode !== null) {
      const log = tailFile(logPath);
      const why = `exited during start-up (${child.exitCode ?? child.signalCode})`;
      if (log.includes("Address already in use")) throw new PortClash(fail(`${why}: a port was taken`).message);
      throw fail(why);
    }
    try {
      const res = await fetch(`${clientUrl}/_matrix/client/versions`, {
        signal: AbortSignal.timeout(2000),
      });
      if (res.ok) return;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) throw fail(`did not answer /_matrix/client/versions within ${timeoutMs / 1000} s`);
    await sleep(150);
  }
}
