import type { ChildProcess } from "node:child_process";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";

/** A port the kernel just handed out on loopback; someone else may take it before we bind. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => {
        if (address !== null && typeof address === "object") resolve(address.port);
        else reject(new Error("could not read the port of a loopback socket"));
      });
    });
  });
}

/** Distinct free ports: two calls in a row can otherwise return the same one. */
export async function freePorts(count: number, avoid: readonly number[] = []): Promise<number[]> {
  const ports: number[] = [];
  while (ports.length < count) ports.push(await freePortExcept([...avoid, ...ports]));
  return ports;
}

export async function freePortExcept(avoid: readonly number[]): Promise<number> {
  for (;;) {
    const port = await freePort();
    if (!avoid.includes(port)) return port;
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function tailFile(path: string, lines = 40): string {
  try {
    return readFileSync(path, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log written)";
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

export function readPid(path: string): number | undefined {
  try {
    const pid = Number(readFileSync(path, "utf8").trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Objects merge key by key so a test can override one rate limit; arrays and scalars replace. */
export function deepMerge(base: Record<string, unknown>, extra: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(extra)) {
    const current = out[key];
    out[key] = isPlainObject(current) && isPlainObject(value) ? deepMerge(current, value) : value;
  }
  return out;
}

/** Resolves with the exit code (or signal) once the child has gone, at once if it already has. */
export function waitForExit(child: ChildProcess): Promise<number | string> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  if (child.signalCode !== null) return Promise.resolve(child.signalCode);
  return new Promise((resolve) => child.once("exit", (code, signal) => resolve(code ?? signal ?? "unknown")));
}

/** SIGTERM (or `signal`), then SIGKILL after `graceMs`: a wedged Synapse must not hang teardown. */
export async function terminate(child: ChildProcess, signal: NodeJS.Signals = "SIGTERM", graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = waitForExit(child);
  child.kill(signal);
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), graceMs);
  });
  if ((await Promise.race([exited, timedOut])) === "timeout") {
    child.kill("SIGKILL");
    await exited;
  }
  clearTimeout(timer);
}

/**
 * `setpriv --pdeathsig` makes the kernel signal our children when this process dies, even by
 * SIGKILL, where no JavaScript handler runs: an aborted test run then leaves no server behind.
 */
let pdeathsigSupported: boolean | undefined;
export function withOrphanGuard(signal: "TERM" | "QUIT" | "KILL", command: string, args: readonly string[]): [string, string[]] {
  pdeathsigSupported ??= spawnSync("setpriv", ["--pdeathsig", "TERM", "true"]).status === 0;
  return pdeathsigSupported ? ["setpriv", [`--pdeathsig=${signal}`, command, ...args]] : [command, [...args]];
}

interface Cleanup {
  /** Best effort, synchronous: all that can run inside a process 'exit' handler. */
  sync(): void;
  async(): Promise<void>;
}

const cleanups = new Set<Cleanup>();
const SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;

function runSyncCleanups(): void {
  for (const cleanup of cleanups) {
    try {
      cleanup.sync();
    } catch {
      // Exiting anyway: one failed cleanup must not stop the others.
    }
  }
  cleanups.clear();
}

function onSignal(signal: NodeJS.Signals): void {
  // Someone else listening (Vitest, a dev-stack script) decides whether and when to exit.
  const alone = process.listenerCount(signal) === 1;
  void Promise.allSettled([...cleanups].map((cleanup) => cleanup.async())).then(() => {
    // Whatever is still registered (e.g. a run directory) goes in the 'exit' handler.
    if (alone) process.exit(signal === "SIGINT" ? 130 : 143);
  });
}

/**
 * Registers a resource to release if the process exits or is interrupted before stop().
 * Signal handlers exist only while something is registered, so Node's defaults come back.
 */
export function onProcessExit(cleanup: Cleanup): () => void {
  if (cleanups.size === 0) {
    process.on("exit", runSyncCleanups);
    for (const signal of SIGNALS) process.on(signal, onSignal);
  }
  cleanups.add(cleanup);
  return () => {
    if (cleanups.delete(cleanup) && cleanups.size === 0) {
      process.off("exit", runSyncCleanups);
      for (const signal of SIGNALS) process.off(signal, onSignal);
    }
  };
}

/**
 * The Debian packages the tests and the local stack need (one list: scripts/system-deps.sh).
 * As root, missing ones are installed; otherwise this fails with the exact command to run, so a
 * test that needs a missing binary fails with that message instead of a confusing ENOENT.
 */
export function requireSystemPackages(): void {
  const script = fileURLToPath(new URL("../../scripts/system-deps.sh", import.meta.url));
  const result = spawnSync("bash", [script], { encoding: "utf8", stdio: ["ignore", "inherit", "pipe"] });
  if (result.status !== 0) throw new Error(result.stderr.trim() || `${script} failed`);
}
