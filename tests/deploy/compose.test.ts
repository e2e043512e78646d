/**
 * The compose deployment is checked by parsing, since no Docker engine runs here: each file it
 * names exists, images are pinned, every variable is documented, Synapse's template has the
 * clinical settings, and Handover's config, with the environment compose gives it, passes the
 * real schema. The checks across files (ports, paths, server name) are the ones a trust would
 * otherwise find out about at 2 a.m.
 */
import { accessSync, constants, existsSync, readFileSync } from "node:fs";
import { basename, dirname, join, posix, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { ConfigError, parseConfig } from "../../appservice/src/config/load.js";
import { CONTAINER_PATHS } from "../../deploy/init/first-run.js";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const read = (path: string): string => readFileSync(join(repo, path), "utf8");

interface ComposeVolume {
  type?: string;
  source?: string;
  target?: string;
}
interface ComposeService {
  image?: string;
  build?: string | { context?: string; dockerfile?: string };
  profiles?: string[];
  user?: string;
  entrypoint?: string[];
  command?: string[];
  environment?: Record<string, string | null>;
  env_file?: string | (string | { path: string })[];
  volumes?: (string | ComposeVolume)[];
  ports?: (string | { target?: number; published?: string })[];
  expose?: (string | number)[];
  networks?: string[] | Record<string, unknown>;
  depends_on?: string[] | Record<string, { condition?: string }>;
  healthcheck?: { test?: string[] | string; disable?: boolean };
}
interface ComposeFile {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
  networks?: Record<string, { internal?: boolean } | null>;
}

const composeText = read("docker-compose.yml");
// merge: compose honours YAML merge keys (`<<: *handover-environment`).
const compose = parse(composeText, { merge: true }) as ComposeFile;
const services = Object.entries(compose.services);

function service(name: string): ComposeService {
  const found = compose.services[name];
  if (!found) throw new Error(`docker-compose.yml has no service ${name}`);
  return found;
}

/** Every string in a parsed YAML document (keys included), so comments are left out. */
function strings(node: unknown): string[] {
  if (typeof node === "string") return [node];
  if (Array.isArray(node)) return node.flatMap(strings);
  if (typeof node === "object" && node !== null) return Object.entries(node).flatMap(([key, value]) => [key, ...strings(value)]);
  return [];
}

interface VariableUse {
  name: string;
  /** "-" default, "?" required, "+" alternative, "" plain. */
  operator: string;
  fallback: string;
}

function variableUses(text: string): VariableUse[] {
  const unescaped = text.replaceAll("$$", "");
  const braced = [...unescaped.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?([-?+])([^}]*))?\}/g)].map((m) => ({
    name: m[1] as string,
    operator: m[2] ?? "",
    fallback: m[3] ?? "",
  }));
  const bare = [...unescaped.matchAll(/\$([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => ({ name: m[1] as string, operator: "", fallback: "" }));
  return [...braced, ...bare];
}

/** Compose's interpolation, enough for this file: ${X}, ${X:-default}, ${X:?message}. */
function interpolate(text: string, env: Record<string, string>): string {
  return text.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?([-?+])([^}]*))?\}/g, (_, name: string, operator?: string, fallback?: string) => {
    const value = env[name];
    if (value !== undefined && value !== "") return operator === "+" ? (fallback ?? "") : value;
    if (operator === "?") throw new Error(`${name} is required: ${fallback}`);
    return operator === "-" ? (fallback ?? "") : "";
  });
}

const envExampleText = read(".env.example");
/** Uncommented NAME=value lines of .env.example. */
const envExample = new Map([...envExampleText.matchAll(/^([A-Z_][A-Z0-9_]*)=(.*)$/gm)].map((m) => [m[1] as string, (m[2] as string).trim()]));

interface Mount {
  source: string;
  target: string;
  bind: boolean;
}

function mounts(svc: ComposeService): Mount[] {
  return (svc.volumes ?? []).map((entry) => {
    if (typeof entry === "string") {
      const [source = "", target = ""] = entry.split(":");
      return { source, target, bind: /^[./~]/.test(source) };
    }
    return { source: entry.source ?? "", target: entry.target ?? "", bind: entry.type === "bind" };
  });
}

/** The mount holding a container path, and the path relative to it. */
function mountFor(svc: ComposeService, containerPath: string): { mount: Mount; rest: string } | undefined {
  const candidates = mounts(svc)
    .filter((m) => containerPath === m.target || containerPath.startsWith(`${m.target}/`))
    .sort((a, b) => b.target.length - a.target.length);
  const mount = candidates[0];
  return mount && { mount, rest: containerPath.slice(mount.target.length).replace(/^\//, "") };
}

function envOf(svc: ComposeService): Record<string, string> {
  const env = svc.environment ?? {};
  expect(Array.isArray(env), "environment is written as a mapping").toBe(false);
  return Object.fromEntries(Object.entries(env).map(([key, value]) => [key, value ?? ""]));
}

function networksOf(svc: ComposeService): string[] {
  const networks = svc.networks ?? [];
  return Array.isArray(networks) ? networks : Object.keys(networks);
}

/** "name:tag", "registry:5000/name:tag", "name@sha256:..." -> its tag or digest. */
function imageTag(image: string): { tag?: string; digest?: string } {
  const [ref = "", digest] = image.split("@");
  const lastSegment = ref.slice(ref.lastIndexOf("/") + 1);
  const colon = lastSegment.indexOf(":");
  return { ...(colon >= 0 ? { tag: lastSegment.slice(colon + 1) } : {}), ...(digest ? { digest } : {}) };
}

function expectPinned(image: string, where: string): void {
  expect(image, `${where}: image must not come from a variable`).not.toMatch(/\$/);
  const { tag, digest } = imageTag(image);
  expect(tag !== undefined || digest !== undefined, `${where}: ${image} has no tag`).toBe(true);
  expect(tag, `${where}: ${image} must name a version, not latest`).not.toBe("latest");
}

const dummyEnv: Record<string, string> = Object.fromEntries(
  [...envExample.keys()].map((name) => [
    name,
    name.endsWith("_PORT")
      ? "18000"
      : name.endsWith("_BIND")
        ? "127.0.0.1"
        : // Secrets with a minimum length (e.g. the e2ee state key) get a long enough dummy.
          `dummy-${name.toLowerCase().replaceAll("_", "-")}${name.endsWith("_KEY") ? "-0123456789abcdef" : ""}`,
  ]),
);
const interpolated = parse(interpolate(composeText, dummyEnv), { merge: true }) as ComposeFile;

describe("docker-compose.yml", () => {
  it("has the five services, init only under its profile", () => {
    expect(Object.keys(compose.services).sort()).toEqual(["handover", "init", "migrate", "postgres", "synapse"]);
    expect(service("init").profiles).toEqual(["init"]);
    for (const name of ["postgres", "synapse", "handover"]) expect(service(name).profiles, name).toBeUndefined();
  });

  it("pins every image to a version", () => {
    for (const [name, svc] of services) {
      if (svc.image === undefined) {
        expect(svc.build, `${name} has neither image nor build`).toBeDefined();
        continue;
      }
      expectPinned(svc.image, name);
    }
    expect(service("postgres").image).toMatch(/^postgres:17\.\d+-bookworm$/);
    expect(service("synapse").image).toMatch(/^matrixdotorg\/synapse:v1\.\d+\.\d+$/);
  });

  it("builds from a context and Dockerfile that exist; init runs the image handover builds", () => {
    for (const [name, svc] of services) {
      if (svc.build === undefined) continue;
      const build = typeof svc.build === "string" ? { context: svc.build } : svc.build;
      const context = join(repo, build.context ?? ".");
      expect(existsSync(context), `${name}: build context ${build.context}`).toBe(true);
      expect(existsSync(join(context, build.dockerfile ?? "Dockerfile")), `${name}: Dockerfile`).toBe(true);
    }
    expect(service("init").image).toBe(service("handover").image);
    expect(service("init").build).toEqual(service("handover").build);
  });

  it("bind-mounts only relative paths that exist, and declares every named volume", () => {
    for (const [name, svc] of services) {
      for (const mount of mounts(svc)) {
        if (mount.bind) {
          expect(mount.source, `${name}: host paths must be relative to the repository`).toMatch(/^\.\//);
          expect(existsSync(join(repo, mount.source)), `${name}: ${mount.source} must exist`).toBe(true);
        } else {
          expect(Object.keys(compose.volumes ?? {}), `${name}: volume ${mount.source}`).toContain(mount.source);
        }
      }
    }
  });

  it("reads env files only from .env, documented by .env.example", () => {
    for (const [name, svc] of services) {
      const files = svc.env_file === undefined ? [] : Array.isArray(svc.env_file) ? svc.env_file : [svc.env_file];
      for (const file of files.map((f) => (typeof f === "string" ? f : f.path))) {
        const ok = existsSync(join(repo, file)) || (basename(file) === ".env" && existsSync(join(repo, dirname(file), ".env.example")));
        expect(ok, `${name}: env_file ${file}`).toBe(true);
      }
    }
    expect(existsSync(join(repo, ".env.example"))).toBe(true);
  });

  it("documents every variable it uses in .env.example, and uses every variable documented there", () => {
    const used = variableUses(strings(compose).join("\n"));
    const names = new Set(used.map((use) => use.name));
    expect(names.size).toBeGreaterThan(0);
    for (const name of names) expect(envExample.has(name), `${name} is missing from .env.example`).toBe(true);
    for (const name of envExample.keys()) expect(names.has(name), `${name} in .env.example is not used by docker-compose.yml`).toBe(true);
  });

  it("ships no secret: every required variable is empty in .env.example, so compose refuses to start until it is set", () => {
    const required = variableUses(strings(compose).join("\n")).filter((use) => use.operator === "?");
    expect(required.map((use) => use.name).sort()).toEqual(expect.arrayContaining(["HANDOVER_DB_PASSWORD", "POSTGRES_PASSWORD", "SYNAPSE_DB_PASSWORD"]));
    for (const use of required) expect(envExample.get(use.name), use.name).toBe("");
    expect(envExample.get("HANDOVER_ADMIN_ACCESS_TOKEN")).toBe("");
    expect(() => interpolate(composeText, {})).toThrow(/is required/);
  });

  it("publishes only the web and client ports, on loopback by default, never the appservice port", () => {
    const published = services.flatMap(([name, svc]) => (svc.ports ?? []).map((port) => ({ name, port: String(port) })));
    expect(published.map((p) => p.name).sort()).toEqual(["handover", "synapse"]);
    for (const { name, port } of published) {
      expect(port, `${name} publishes ${port}`).toMatch(/^\$\{[A-Z_]+_BIND:-127\.0\.0\.1\}:\$\{[A-Z_]+_PORT:-\d+\}:\d+$/);
    }
    expect(String(service("handover").ports?.[0])).toMatch(/:8090$/);
    expect(String(service("synapse").ports?.[0])).toMatch(/:8008$/);
    for (const { port } of published) expect(port).not.toMatch(/:9000$/);
  });

  it("keeps PostgreSQL on the internal network only", () => {
    const internal = Object.entries(compose.networks ?? {})
      .filter(([, network]) => network?.internal === true)
      .map(([name]) => name);
    expect(internal.length).toBe(1);
    expect(networksOf(service("postgres"))).toEqual(internal);
    for (const name of ["synapse", "handover", "init", "migrate"]) expect(networksOf(service(name)), name).toContain(internal[0]);
  });

  it("starts Handover after PostgreSQL and Synapse are healthy, and every awaited service has a healthcheck", () => {
    expect(service("handover").depends_on).toEqual({
      postgres: { condition: "service_healthy" },
      synapse: { condition: "service_healthy" },
      migrate: { condition: "service_completed_successfully" },
    });
    for (const [name, svc] of services) {
      const dependsOn = svc.depends_on ?? {};
      if (Array.isArray(dependsOn)) continue;
      for (const [dependency, { condition }] of Object.entries(dependsOn)) {
        if (condition === "service_healthy") expect(service(dependency).healthcheck?.test, `${name} waits for ${dependency}`).toBeDefined();
      }
    }
    expect(service("synapse").healthcheck?.test).toEqual(["CMD", "curl", "-fSs", "http://localhost:8008/health"]);
    expect(String(service("handover").healthcheck?.test)).toContain("http://127.0.0.1:8090/readyz");
    expect(String(service("postgres").healthcheck?.test)).toContain("pg_isready");
  });

  it("runs the migrations as the database owner before Handover serves as the runtime role", () => {
    expect(service("migrate").command).toEqual(["migrate", "--config", "/config/config.yaml"]);
    expect(service("migrate").image).toBe(service("handover").image);
    expect(envOf(service("migrate")).HANDOVER__DATABASE__URL).toMatch(
      /^postgres:\/\/handover_owner:\$\{HANDOVER_OWNER_DB_PASSWORD:\?[^}]+\}@postgres:5432\/handover$/,
    );
    expect(service("handover").command).toEqual(["serve", "--config", "/config/config.yaml"]);
    expect(envOf(service("handover")).HANDOVER__DATABASE__URL).toMatch(/^postgres:\/\/handover:/);
    // Handover never receives the owner's password.
    expect(JSON.stringify(service("handover").environment)).not.toContain("HANDOVER_OWNER_DB_PASSWORD");
  });
});

describe("PostgreSQL", () => {
  const postgres = service("postgres");
  const initDir = mountFor(postgres, "/docker-entrypoint-initdb.d");

  it("creates both databases from an executable init script", () => {
    expect(initDir?.mount.bind).toBe(true);
    const script = join(repo, initDir?.mount.source ?? "missing", "10-create-databases.sh");
    expect(() => accessSync(script, constants.X_OK)).not.toThrow();
    const sql = readFileSync(script, "utf8");
    expect(sql).toMatch(/CREATE DATABASE synapse OWNER synapse ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0/);
    expect(sql).toMatch(/CREATE ROLE handover_owner LOGIN/);
    expect(sql).toMatch(/CREATE ROLE handover LOGIN/);
    expect(sql).toMatch(/CREATE DATABASE handover OWNER handover_owner /);
    expect(sql).toMatch(
      /--dbname handover\s+\\\s+-v owner_role=handover_owner -v runtime_role=handover\s+\\\s+-f "\$\(dirname "\$\{BASH_SOURCE\[0\]\}"\)\/handover-privileges.psql"/,
    );
    for (const name of sql.matchAll(/"\$\{?([A-Z_]+_PASSWORD)/g)) expect(envOf(postgres), `postgres needs ${name[1]}`).toHaveProperty(name[1] as string);
  });

  it("gives Handover's runtime role rows only: no TRUNCATE or triggers, and only INSERT and SELECT on the audit trail", () => {
    const privileges = read(join(initDir?.mount.source ?? "missing", "handover-privileges.psql"));
    expect(privileges).toMatch(/GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO :"runtime_role"/);
    expect(privileges).toMatch(/REVOKE UPDATE, DELETE, TRUNCATE, TRIGGER, REFERENCES ON audit_log FROM :"runtime_role"/);
    expect(privileges).not.toMatch(/GRANT[^;]*(TRUNCATE|TRIGGER|ALL PRIVILEGES|CREATE)[^;]*TO :"runtime_role"/);
  });

  it("gives each service the password of its own role", () => {
    expect(envOf(service("synapse")).PGPASSWORD).toBe(envOf(postgres).SYNAPSE_DB_PASSWORD);
    expect(envOf(service("handover")).HANDOVER__DATABASE__URL).toContain(`handover:${envOf(postgres).HANDOVER_DB_PASSWORD}@postgres:5432/handover`);
  });
});

describe("deploy/synapse/homeserver.yaml", () => {
  const synapse = service("synapse");
  const configPath = envOf(synapse).SYNAPSE_CONFIG_PATH ?? "";
  const configMount = mountFor(synapse, configPath);
  const hs = parse(read(configMount?.mount.source ?? "missing")) as Record<string, unknown>;
  const dataMount = mountFor(synapse, "/data");

  it("is the file compose mounts as SYNAPSE_CONFIG_PATH", () => {
    expect(configMount?.mount.source).toBe("./deploy/synapse/homeserver.yaml");
    expect(configPath).toBe("/config/homeserver.yaml");
  });

  it("has the clinical settings", () => {
    expect(hs.push).toEqual({ include_content: false });
    expect(hs.enable_registration).toBe(false);
    expect(hs.allow_guest_access).toBe(false);
    expect(hs.encryption_enabled_by_default_for_room_type).toBe("invite");
    expect(hs.trusted_key_servers).toEqual([]);
    expect(hs.suppress_key_server_warning).toBe(true);
    expect(hs.report_stats).toBe(false);
    expect(hs.url_preview_enabled).toBe(false);
    expect(hs.allow_public_rooms_over_federation).toBe(false);
    expect(hs.limit_profile_requests_to_users_who_share_rooms).toBe(true);
    expect(hs.require_auth_for_profile_requests).toBe(true);
    expect(hs.federation_domain_whitelist).toEqual([]);
    expect(hs.retention).toEqual({ enabled: false });
    expect(hs.redaction_retention_period).toBe("7d");
  });

  it("lists Handover's registration, in Synapse's data volume", () => {
    expect(hs.app_service_config_files).toEqual(["/data/handover-registration.yaml"]);
    expect(dataMount?.mount.bind).toBe(false);
    expect(dataMount?.mount.target).toBe("/data");
  });

  it("uses the postgres service without a password in the file, and keeps every secret in files on the data volume", () => {
    expect(hs.database).toMatchObject({ name: "psycopg2", args: { host: "postgres", port: 5432, user: "synapse", dbname: "synapse" } });
    expect((hs.database as { args: Record<string, unknown> }).args).not.toHaveProperty("password");
    for (const inline of ["registration_shared_secret", "macaroon_secret_key", "form_secret", "signing_key"]) expect(hs, inline).not.toHaveProperty(inline);
    for (const key of ["signing_key_path", "registration_shared_secret_path", "macaroon_secret_key_path", "form_secret_path", "media_store_path", "pid_file"]) {
      expect(String(hs[key]), key).toMatch(/^\/data\//);
    }
  });

  it("listens on the port compose publishes and checks", () => {
    const listeners = hs.listeners as { port: number; tls: boolean; x_forwarded: boolean; bind_addresses: string[]; resources: { names: string[] }[] }[];
    expect(listeners).toHaveLength(1);
    expect(listeners[0]).toMatchObject({ port: 8008, tls: false, x_forwarded: true, bind_addresses: ["0.0.0.0"] });
    expect(listeners[0]?.resources.flatMap((r) => r.names)).toEqual(expect.arrayContaining(["client", "federation"]));
  });

  it("gets its modules directory mounted and on PYTHONPATH", () => {
    const modules = mountFor(synapse, envOf(synapse).PYTHONPATH ?? "");
    expect(modules?.mount.source).toBe("./deploy/synapse/modules");
    expect(existsSync(join(repo, "deploy/synapse/modules/README.md"))).toBe(true);
    // Every module homeserver.yaml names ships in that directory and reads Handover's registration there.
    const named = (hs.modules as { module: string; config: { registration_file?: string } }[]) ?? [];
    expect(named.map((entry) => entry.module).sort()).toEqual(["handover_device_inbox.HandoverDeviceInbox", "handover_federation.HandoverFederationGate"]);
    for (const entry of named) {
      expect(existsSync(join(repo, "deploy/synapse/modules", `${entry.module.split(".")[0]}.py`)), entry.module).toBe(true);
      expect(entry.config.registration_file).toBe("/data/handover-registration.yaml");
    }
  });
});

describe("deploy/handover/config.yaml", () => {
  const handover = service("handover");
  const configMount = mountFor(handover, "/config/config.yaml");
  const document = parse(read(configMount?.mount.source ?? "missing")) as unknown;
  // Parsed inside each test, so a schema failure is reported as one, with ConfigError's list.
  const env = (): Record<string, string> => envOf(interpolated.services.handover ?? {});
  const handoverConfig = () => parseConfig(document, env());
  const hs = parse(read("deploy/synapse/homeserver.yaml")) as { server_name: string; app_service_config_files: string[] };

  it("validates with Handover's schema once compose's environment supplies the secrets", () => {
    const config = handoverConfig();
    expect(configMount?.mount.source).toBe("./deploy/handover/config.yaml");
    expect(config.database.url).toBe("postgres://handover:dummy-handover-db-password@postgres:5432/handover");
    expect(config.homeserver.adminAccessToken).toBe("dummy-handover-admin-access-token");
  });

  it("holds no secret itself: without the environment it is refused, naming the keys", () => {
    let problems: string[] = [];
    try {
      parseConfig(document, {});
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      problems = (error as ConfigError).problems;
    }
    expect(problems.join("\n")).toMatch(/homeserver\.adminAccessToken/);
    expect(problems.join("\n")).toMatch(/database\.url/);
  });

  it("describes the same server as Synapse's template", () => {
    const config = handoverConfig();
    expect(config.homeserver.serverName).toBe(hs.server_name);
  });

  it("reaches Synapse, and is reached by it, on the compose network", () => {
    const config = handoverConfig();
    expect(new URL(config.homeserver.url)).toMatchObject({ hostname: "synapse", port: "8008" });
    const appserviceUrl = new URL(config.appservice.url);
    expect(appserviceUrl.hostname).toBe("handover");
    expect(Number(appserviceUrl.port)).toBe(config.appservice.port);
    expect(handover.expose?.map(String)).toEqual([String(config.appservice.port)]);
    expect(config.appservice.bindAddress).toBe("0.0.0.0");
    expect(config.web.bindAddress).toBe("0.0.0.0");
    expect(config.web.port).toBe(8090);
  });

  it("keeps the registration on Handover's volume, under the name Synapse's copy has", () => {
    const config = handoverConfig();
    const holder = mountFor(handover, config.appservice.registrationFile);
    expect(holder?.mount.bind).toBe(false);
    expect(basename(config.appservice.registrationFile)).toBe(basename(hs.app_service_config_files[0] ?? ""));
  });

  it("serves the portal from where the Dockerfile puts it", () => {
    const config = handoverConfig();
    expect(config.web.portalDir).toBe("/app/portal/dist");
    expect(read("Dockerfile")).toMatch(/^COPY --from=build \/app\/portal\/dist portal\/dist$/m);
  });

  it("lists only well-formed placeholder user IDs in access.roles", () => {
    const config = handoverConfig();
    expect(Object.keys(config.access.roles).length).toBeGreaterThan(0);
    for (const userId of Object.keys(config.access.roles)) expect(userId.endsWith(`:${config.homeserver.serverName}`), userId).toBe(true);
  });
});

describe("init service", () => {
  const init = service("init");

  it("runs deploy/init/first-run.ts as root with the mounts it expects", () => {
    expect(init.user).toBe("0:0");
    expect(init.entrypoint).toEqual(["node", "deploy/init/first-run.ts"]);
    expect(init.command).toEqual(["setup"]);
    expect(mountFor(init, CONTAINER_PATHS.handoverConfig)?.mount.source).toBe("./deploy/handover/config.yaml");
    expect(mountFor(init, CONTAINER_PATHS.synapseConfig)?.mount.source).toBe("./deploy/synapse/homeserver.yaml");
    expect(mountFor(init, CONTAINER_PATHS.synapseData)?.mount.source).toBe(mountFor(service("synapse"), "/data")?.mount.source);
    expect(mountFor(init, "/data")?.mount.source).toBe(mountFor(service("handover"), "/data")?.mount.source);
    expect(init.environment).toEqual(service("handover").environment);
    expect(CONTAINER_PATHS.cli).toBe("/app/appservice/dist/cli.js");
  });
});

describe("Dockerfile", () => {
  const dockerfile = read("Dockerfile");
  const lines = dockerfile.split("\n").filter((line) => !line.startsWith("#"));
  const ignored = read(".dockerignore")
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#") && !line.startsWith("!"));

  it("builds on a pinned Node 22 bookworm-slim image", () => {
    const args = Object.fromEntries([...dockerfile.matchAll(/^ARG ([A-Z_]+)=(\S+)$/gm)].map((m) => [m[1], m[2]]));
    const bases = [...dockerfile.matchAll(/^FROM (\S+)/gm)].map((m) => (m[1] as string).replace(/^\$\{([A-Z_]+)\}$/, (_, name: string) => args[name] ?? name));
    expect(bases.length).toBeGreaterThanOrEqual(2);
    for (const base of bases) {
      expectPinned(base, "FROM");
      expect(base).toMatch(/^node:22\.\d+\.\d+-bookworm-slim$/);
    }
  });

  it("runs as a non-root user, with the CLI as entrypoint", () => {
    expect(dockerfile).toMatch(/^USER handover$/m);
    expect(dockerfile).toContain('ENTRYPOINT ["node", "--max-semi-space-size=2", "--optimize-for-size", "appservice/dist/cli.js"]');
    expect(dockerfile).toContain('CMD ["serve", "--config", "/config/config.yaml"]');
    expect(dockerfile).toMatch(/^WORKDIR \/app$/m);
    expect(dockerfile).toContain("npm ci --omit=dev");
    expect(dockerfile).toContain("npm run build -w appservice");
    expect(dockerfile).toContain("npm run build -w portal");
  });

  it("copies only files that exist and that .dockerignore lets through", () => {
    const sources = lines.filter((line) => line.startsWith("COPY ") && !line.includes("--from=")).flatMap((line) => line.split(/\s+/).slice(1, -1));
    expect(sources).toContain("deploy/init/first-run.ts");
    for (const source of sources) {
      expect(existsSync(join(repo, source)), `COPY ${source}`).toBe(true);
      const path = posix.normalize(source).replace(/\/$/, "");
      const excludedBy = ignored.find((pattern) => path === pattern || path.startsWith(`${pattern}/`));
      expect(excludedBy, `COPY ${source} is excluded by .dockerignore`).toBeUndefined();
    }
    expect(ignored).toContain(".env");
  });
});
