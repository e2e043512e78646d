import type { ChildProcess } from "node:child_process";
import { spawn, spawnSync } from "node:child_process";
import { chownSync, closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { Client } from "ldapts";
import { freePort, onProcessExit, sleep, tailFile, terminate, withOrphanGuard } from "./util.js";

export interface SlapdServer {
  url: string;
  baseDn: string;
  bindDn: string;
  bindPassword: string;
  /** Adds entries given as LDIF-like objects: dn plus attributes. */
  add(dn: string, attributes: Record<string, string | string[]>): Promise<void>;
  modify(dn: string, changes: { operation: "add" | "delete" | "replace"; attribute: string; values: string[] }[]): Promise<void>;
  remove(dn: string): Promise<void>;
  stop(): Promise<void>;
}

export interface SlapdOptions {
  baseDn?: string;
  /** Size limit of a single (unpaged) search; paged searches go past it. */
  sizeLimit?: number;
}

const SCHEMAS = ["core", "cosine", "inetorgperson", "nis"];
const SLAPD = "/usr/sbin/slapd";

/**
 * A real OpenLDAP (Debian's slapd) on a free loopback port, from a temporary slapd.conf with
 * back_mdb and the memberof overlay. Stops only the process it started and removes its files.
 */
export async function startSlapd(options: SlapdOptions = {}): Promise<SlapdServer> {
  const baseDn = options.baseDn ?? "dc=trust,dc=test";
  const bindDn = `cn=admin,${baseDn}`;
  const bindPassword = "slapd-test-secret";
  const dir = mkdtempSync(join(tmpdir(), "handover-slapd-"));
  const dataDir = join(dir, "data");
  mkdirSync(dataDir);
  const port = await freePort();
  const conf = [
    ...SCHEMAS.map((name) => `include /etc/ldap/schema/${name}.schema`),
    `pidfile ${join(dir, "slapd.pid")}`,
    "modulepath /usr/lib/ldap",
    "moduleload back_mdb",
    "moduleload memberof",
    `sizelimit ${options.sizeLimit ?? 500}`,
    "database mdb",
    `suffix "${baseDn}"`,
    `rootdn "${bindDn}"`,
    `rootpw ${bindPassword}`,
    `directory ${dataDir}`,
    "maxsize 104857600",
    "index objectClass eq",
    "overlay memberof",
    "memberof-group-oc groupOfNames",
    "memberof-member-ad member",
    "memberof-memberof-ad memberOf",
    "memberof-refint true",
    "",
  ].join("\n");
  const confPath = join(dir, "slapd.conf");
  writeFileSync(confPath, conf);
  // slapd drops root when asked: run it as the openldap user where we are root.
  const asRoot = userInfo().uid === 0;
  const runAs = asRoot && spawnSync("id", ["-u", "openldap"]).status === 0 ? ["-u", "openldap", "-g", "openldap"] : [];
  if (runAs.length > 0) {
    const uid = Number(spawnSync("id", ["-u", "openldap"], { encoding: "utf8" }).stdout.trim());
    const gid = Number(spawnSync("id", ["-g", "openldap"], { encoding: "utf8" }).stdout.trim());
    for (const path of [dir, dataDir, confPath]) chownSync(path, uid, gid);
  }
  const logPath = join(dir, "slapd.log");
  const logFd = openSync(logPath, "a");
  const url = `ldap://127.0.0.1:${port}`;
  // -d 0 keeps slapd in the foreground (so we hold its pid) without debug output.
  const [command, args] = withOrphanGuard("TERM", SLAPD, ["-d", "0", "-f", confPath, "-h", `${url}/`, ...runAs]);
  let child: ChildProcess;
  try {
    child = spawn(command, args, { cwd: dir, stdio: ["ignore", logFd, logFd] });
  } finally {
    closeSync(logFd);
  }
  let stopped: Promise<void> | undefined;
  const unregister = onProcessExit({
    sync: () => {
      child.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    },
    async: () => stop(),
  });
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      unregister();
      await terminate(child, "SIGTERM", 5_000);
      rmSync(dir, { recursive: true, force: true });
    })();
    return stopped;
  };

  const withClient = async <T>(work: (client: Client) => Promise<T>): Promise<T> => {
    const client = new Client({ url, timeout: 10_000, connectTimeout: 5_000 });
    try {
      await client.bind(bindDn, bindPassword);
      return await work(client);
    } finally {
      await client.unbind().catch(() => {});
    }
  };

  try {
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`slapd exited (${child.exitCode ?? child.signalCode}):\n${tailFile(logPath)}`);
      try {
        await withClient(async () => undefined);
        break;
      } catch (error) {
        if (Date.now() > deadline) throw new Error(`slapd did not accept a bind within 20 s: ${String(error)}\n${tailFile(logPath)}`);
        await sleep(100);
      }
    }
    const dc = /^dc=([^,]+)/.exec(baseDn)?.[1] ?? "trust";
    await withClient((client) => client.add(baseDn, { objectClass: ["top", "dcObject", "organization"], dc, o: "Test trust" }));
    for (const ou of ["people", "groups"]) {
      await withClient((client) => client.add(`ou=${ou},${baseDn}`, { objectClass: ["top", "organizationalUnit"], ou }));
    }
  } catch (error) {
    await stop();
    throw error;
  }

  return {
    url,
    baseDn,
    bindDn,
    bindPassword,
    add: (dn, attributes) => withClient((client) => client.add(dn, attributes)),
    modify: async (dn, changes) => {
      const { Attribute, Change } = await import("ldapts");
      await withClient((client) =>
        client.modify(
          dn,
          changes.map((change) => new Change({ operation: change.operation, modification: new Attribute({ type: change.attribute, values: change.values }) })),
        ),
      );
    },
    remove: (dn) => withClient((client) => client.del(dn)),
    stop,
  };
}
