/**
 * The large-trust variant (docker-compose.workers.yml) is checked by parsing, as the base file
 * is (compose.test.ts): no Docker engine runs here. What runs for real is the same shape in the
 * test harness (tests/harness/synapse-workers.ts, HANDOVER_SYNAPSE_WORKERS=1) and the failover
 * test; these checks keep the shipped files saying what the harness does.
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { CLIENT_ON_WORKER, FEDERATION_ON_WORKER, mainProcessConfig, WORKERS } from "../harness/synapse-workers.js";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const read = (path: string): string => readFileSync(join(repo, path), "utf8");
const yaml = (path: string) =>
  parse(read(path), { merge: true, customTags: [{ tag: "!reset", collection: "seq", resolve: () => [] } as never] }) as Record<string, unknown>;

interface Service {
  image?: string;
  entrypoint?: string[];
  ports?: unknown[];
  volumes?: string[];
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition?: string }>;
  healthcheck?: { test?: string[] };
}
const compose = yaml("docker-compose.workers.yml") as { services: Record<string, Service> };
const services = compose.services;
const shared = yaml("deploy/synapse/workers/shared.yaml");
const harnessMain = mainProcessConfig({
  databaseUrl: "postgres://synapse:x@postgres:5432/synapse",
  ports: { mainHttp: 8008, replication: 9093, redis: 6379, workers: Object.fromEntries(WORKERS.map((w) => [w.name, 8081])) as never },
  dir: "/data",
  xForwarded: true,
  replicationSecret: "x",
});

describe("docker-compose.workers.yml", () => {
  it("runs each worker the harness runs, with its own config file naming it", () => {
    for (const worker of WORKERS) {
      const service = Object.entries(services).find(([, svc]) => svc.entrypoint?.at(-1) === `/config/workers/${worker.name}.yaml`);
      expect(service, `a service for ${worker.name}`).toBeDefined();
      expect(service?.[1].entrypoint?.slice(0, 3)).toEqual(["python", "-m", "synapse.app.generic_worker"]);
      const config = yaml(`deploy/synapse/workers/${worker.name}.yaml`);
      expect(config).toMatchObject({ worker_app: "synapse.app.generic_worker", worker_name: worker.name });
      expect(service?.[1].healthcheck?.test?.join(" ")).toContain("/health");
    }
  });

  it("gives the main process and every worker the shared config after homeserver.yaml", () => {
    const synapses = Object.values(services).filter((svc) => svc.entrypoint?.[2]?.startsWith("synapse.app."));
    expect(synapses).toHaveLength(WORKERS.length + 1);
    for (const svc of synapses) {
      expect(svc.entrypoint?.slice(3, 7)).toEqual(["--config-path", "/config/homeserver.yaml", "--config-path", "/config/workers/shared.yaml"]);
    }
  });

  it("moves the same work off the main process as the harness, over Redis and a replication listener", () => {
    for (const key of ["federation_sender_instances", "notify_appservices_from_worker", "run_background_tasks_on"]) {
      expect(shared[key], key).toEqual(harnessMain[key]);
    }
    expect(shared.redis).toMatchObject({ enabled: true, host: "redis" });
    expect(services.redis?.image).toMatch(/^redis:\d+\.\d+\.\d+-bookworm$/);
    const listeners = shared.listeners as { port: number; resources: { names: string[] }[] }[];
    const replication = listeners.find((listener) => listener.resources.some((r) => r.names.includes("replication")));
    expect((shared.instance_map as { main: { port: number } }).main.port).toBe(replication?.port);
    // The admin API (purges) must reach the main process: its listener serves the client API.
    expect(listeners.some((listener) => listener.resources.some((r) => r.names.includes("client")))).toBe(true);
    // The replication secret is a file the init step writes, never a value in the file.
    expect(shared.worker_replication_secret).toBeUndefined();
    expect(shared.worker_replication_secret_path).toMatch(/^\/data\/keys\//);
    expect(services.init?.volumes).toContain("./deploy/synapse/workers:/synapse-config/workers:ro");
  });

  it("publishes only the router's and the load balancer's ports", () => {
    const publishing = Object.entries(services)
      .filter(([, svc]) => (svc.ports ?? []).length > 0)
      .map(([name]) => name)
      .sort();
    expect(publishing).toEqual(["handover-lb", "synapse-router"]);
  });

  it("points the registration and Handover's config at the shared address and the router", () => {
    expect(services.handover?.environment?.HANDOVER__APPSERVICE__URL).toBe("http://handover-lb:9000");
    expect(services["handover-standby"]?.environment?.HANDOVER__APPSERVICE__URL).toBe("http://handover-lb:9000");
    expect(services.init?.environment?.HANDOVER__APPSERVICE__URL).toBe("http://handover-lb:9000");
    expect(services.handover?.environment?.HANDOVER__HOMESERVER__URL).toBe("http://synapse-router:8008");
  });

  it("pins every image", () => {
    for (const [name, svc] of Object.entries(services)) {
      if (svc.image) expect(svc.image, name).toMatch(/^[a-z/.-]+:[\w.-]+$/);
      if (svc.image) expect(svc.image, name).not.toMatch(/:latest$/);
    }
  });
});

describe("deploy/nginx", () => {
  const router = read("deploy/nginx/synapse-workers.conf");
  const locations = [...router.matchAll(/location ~ (\S+) \{\s*proxy_pass http:\/\/(\w+);/g)].map((m) => ({ pattern: m[1], upstream: m[2] }));

  it("routes to a worker exactly what the harness's router does, and the rest to the main process", () => {
    const expected = [
      ...CLIENT_ON_WORKER.map((r) => ({ pattern: r.source.replaceAll("\\/", "/"), upstream: "synapse_client_worker" })),
      ...FEDERATION_ON_WORKER.map((r) => ({ pattern: r.source.replaceAll("\\/", "/"), upstream: "synapse_federation_worker" })),
    ];
    expect(locations).toEqual(expected);
    expect(router).toMatch(/location \/ \{\s*proxy_pass http:\/\/synapse_main;/);
    // Purges and the rest of the admin API are never sent to a worker (matrix-org/synapse#13604).
    for (const { pattern } of locations) expect(pattern).not.toContain("_synapse/admin");
  });

  it("sends Synapse's transactions on to the other Handover process when one refuses or answers 503", () => {
    const failover = read("deploy/nginx/handover-failover.conf");
    expect(failover).toMatch(/server handover:9000/);
    expect(failover).toMatch(/server handover-standby:9000/);
    expect(failover).toMatch(/proxy_next_upstream error timeout http_503;/);
    expect(existsSync(join(repo, "tests/support/failover-proxy.ts"))).toBe(true);
  });
});
