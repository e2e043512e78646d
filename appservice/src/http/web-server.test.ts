import { afterEach, describe, expect, it } from "vitest";
import { SignInLimited } from "../domain/access/sign-in-limits.js";
import { createLogger } from "../logger.js";
import { API, type ErrorResponse } from "./contract.js";
import { HandoverMetrics } from "./metrics.js";
import { type RouteHandlers, WebServer, type WebServerOptions } from "./web-server.js";

const started: WebServer[] = [];

/** A web server whose sign-in route answers with the client address it was given. */
async function serve(options: Partial<WebServerOptions>, signIn?: RouteHandlers["signIn"]): Promise<string> {
  const unused = async () => {
    throw new Error("not used here");
  };
  const handlers = Object.fromEntries(Object.keys(API).map((name) => [name, unused])) as unknown as RouteHandlers;
  handlers.signIn =
    signIn ?? (async ({ clientAddress }) => ({ userId: clientAddress, role: "admin", roleFrom: { kind: "config" }, expiresAt: new Date(0).toISOString() }));
  const server = new WebServer({
    handlers,
    resolveSession: async () => null,
    readiness: async () => ({}),
    metrics: new HandoverMetrics(),
    logger: createLogger("silent"),
    publicUrl: "http://127.0.0.1",
    portalDir: undefined,
    version: "test",
    ...options,
  });
  started.push(server);
  return `http://127.0.0.1:${await server.start(0, "127.0.0.1")}`;
}

async function addressSeen(base: string, forwardedFor: string): Promise<string> {
  const response = await fetch(`${base}/api/v1/session`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-forwarded-for": forwardedFor },
    body: JSON.stringify({ username: "alice", password: "x" }),
  });
  return ((await response.json()) as { userId: string }).userId;
}

afterEach(async () => {
  await Promise.all(started.splice(0).map((server) => server.stop()));
});

describe("web server", () => {
  it("takes the client address from X-Forwarded-For only when the request comes from a trusted proxy", async () => {
    expect(await addressSeen(await serve({ trustedProxies: ["loopback"] }), "203.0.113.5")).toBe("203.0.113.5");
    // The proxy appends: the client's own claim to the left is not believed.
    expect(await addressSeen(await serve({ trustedProxies: ["loopback"] }), "192.0.2.1, 203.0.113.5")).toBe("203.0.113.5");
    expect(await addressSeen(await serve({ trustedProxies: ["192.0.2.0/24"] }), "203.0.113.5")).toBe("127.0.0.1");
  });

  it("believes only the address the nearest trusted proxy saw, even when clients are on a trusted range and the proxy appends", async () => {
    // deploy/handover/config.yaml trusts uniquelocal; a trust's desktops are on 10.x too. With
    // nginx's usual `$proxy_add_x_forwarded_for`, a desktop's forged entry sits left of its own.
    const base = await serve({ trustedProxies: ["loopback", "uniquelocal"] });
    expect(await addressSeen(base, "198.51.100.7, 10.1.2.3")).toBe("10.1.2.3");
    expect(await addressSeen(base, "10.9.9.9, 10.1.2.3")).toBe("10.1.2.3");
  });

  it("answers /metrics 401 without the configured bearer token", async () => {
    const base = await serve({ metricsToken: "m".repeat(40) });
    expect((await fetch(`${base}/metrics`)).status).toBe(401);
    expect((await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${"m".repeat(39)}x` } })).status).toBe(401);
    expect((await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${"m".repeat(40)}` } })).status).toBe(200);
    expect((await fetch(`${await serve({})}/metrics`)).status).toBe(200);
  });

  it("sends the security headers and Retry-After on a refused sign-in", async () => {
    const base = await serve({ publicUrl: "https://handover.trust.example" }, async () => {
      throw new SignInLimited(42);
    });
    const response = await fetch(`${base}/healthz`);
    expect(response.headers.get("content-security-policy")).toContain("frame-ancestors 'none'");
    expect(response.headers.get("strict-transport-security")).toBe("max-age=31536000");
    const limited = await fetch(`${base}/api/v1/session`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username: "alice", password: "x" }),
    });
    expect(limited.status).toBe(429);
    expect(limited.headers.get("retry-after")).toBe("42");
    expect(((await limited.json()) as ErrorResponse).error.code).toBe("RATE_LIMITED");
  });
});
