import { existsSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { join, resolve } from "node:path";
import express, { type NextFunction, type Request, type RequestHandler, type Response } from "express";
import type { Logger } from "pino";
import type { z } from "zod";
import { HandoverError } from "../domain/errors.js";
import { API, API_PREFIX, type RouteContract, type Session } from "./contract.js";
import { errorBody, retryAfterSeconds, STATUS_OF, toHandoverError } from "./errors.js";
import type { HandoverMetrics } from "./metrics.js";
import { openApiDocument } from "./openapi.js";
import { requireMetricsToken, securityHeaders } from "./security-headers.js";

export const SESSION_COOKIE = "handover_session";

type RouteName = keyof typeof API;
type Input<S> = S extends z.ZodType ? z.output<S> : undefined;
type Output<K extends RouteName> = z.input<(typeof API)[K]["response"]>;

export interface RequestContext<K extends RouteName> {
  params: Input<(typeof API)[K] extends { params: infer P } ? P : undefined>;
  query: Input<(typeof API)[K] extends { query: infer Q } ? Q : undefined>;
  body: Input<(typeof API)[K] extends { body: infer B } ? B : undefined>;
  /** Present on every route but the public ones. */
  session: Session | null;
  sessionToken: string | null;
  /** The client's address: from X-Forwarded-For only when the request came through a trusted proxy. */
  clientAddress: string;
  setSession(token: string, expiresAt: Date): void;
  clearSession(): void;
}

export type RouteHandlers = { [K in RouteName]: (context: RequestContext<K>) => Promise<Output<K>> };

export interface WebServerOptions {
  /** Merged from the core and every capability; each route of the contract needs exactly one. */
  handlers: Partial<RouteHandlers>;
  resolveSession(token: string): Promise<Session | null>;
  readiness(): Promise<Record<string, boolean>>;
  /** Reasons for a failing check that its name alone does not give (e.g. an exhausted pool). */
  readinessProblems?(): string[];
  metrics: HandoverMetrics;
  logger: Logger;
  publicUrl: string;
  portalDir: string | undefined;
  /** Proxies whose X-Forwarded-For is believed (express "trust proxy" values); default loopback. */
  trustedProxies?: string[];
  /** When set, /metrics needs `Authorization: Bearer <metricsToken>`. */
  metricsToken?: string | undefined;
  version: string;
  /** Extra routers mounted at the root, after the API and before the portal (capabilities' own endpoints). */
  routes?: RequestHandler[];
}

function readCookie(header: string | undefined, name: string): string | null {
  for (const part of (header ?? "").split(";")) {
    const [key, ...rest] = part.trim().split("=");
    if (key === name) return decodeURIComponent(rest.join("="));
  }
  return null;
}

function parseWith(schema: z.ZodType | undefined, value: unknown, where: string): unknown {
  if (!schema) return undefined;
  const result = schema.safeParse(value ?? {});
  if (result.success) return result.data;
  const details = result.error.issues.flatMap((issue) =>
    issue.code === "unrecognized_keys"
      ? issue.keys.map((key) => ({ path: [...issue.path, key].join("."), message: "unknown field" }))
      : [{ path: issue.path.join(".") || where, message: issue.message }],
  );
  throw new HandoverError("VALIDATION_FAILED", `Invalid ${where}: ${details.map((d) => `${d.path}: ${d.message}`).join("; ")}`, details);
}

/** Express app for the admin API, health, metrics and the built portal. Routes come from the contract table. */
export class WebServer {
  private readonly app = express();
  private server: Server | null = null;
  private readonly secureCookies: boolean;
  private readonly origin: string;

  constructor(private readonly options: WebServerOptions) {
    const url = new URL(options.publicUrl);
    this.secureCookies = url.protocol === "https:";
    this.origin = url.origin;
    const app = this.app;
    app.disable("x-powered-by");
    // One hop: the address the proxy that reached us saw. Walking further left would believe a
    // client's own claim whenever the client's address is itself on a trusted range (a desktop on
    // 10.x behind a proxy that appends to X-Forwarded-For, with uniquelocal trusted).
    app.set("trust proxy", options.trustedProxies ?? ["loopback"]);
    const trustedProxy = app.get("trust proxy fn") as (address: string, hop: number) => boolean;
    app.set("trust proxy", (address: string, hop: number) => hop === 0 && trustedProxy(address, hop));
    const headers = securityHeaders(options.publicUrl);
    app.use((_req, res, next) => {
      res.set(headers);
      next();
    });
    app.get("/healthz", (_req, res) => {
      res.send({ status: "ok" });
    });
    app.get("/readyz", async (_req, res) => {
      const checks = await options.readiness();
      const ready = Object.values(checks).every(Boolean);
      const problems = options.readinessProblems?.() ?? [];
      res.status(ready ? 200 : 503).send({ status: ready ? "ready" : "not ready", checks, ...(problems.length > 0 ? { problems } : {}) });
    });
    app.get("/metrics", requireMetricsToken(options.metricsToken), async (_req, res) => {
      res.type(options.metrics.registry.contentType).send(await options.metrics.registry.metrics());
    });
    const api = express.Router();
    api.use(express.json({ limit: "1mb" }));
    api.get("/openapi.json", (_req, res) => {
      res.send(openApiDocument(options.version));
    });
    const missing = Object.keys(API).filter((name) => !(name in options.handlers));
    if (missing.length > 0) throw new Error(`admin API routes without a handler: ${missing.join(", ")}`);
    for (const [name, route] of Object.entries(API) as [RouteName, RouteContract][]) {
      api[route.method](route.path, (req, res, next) => {
        this.handle(name, route, req, res).catch(next);
      });
    }
    api.use((_req, _res, next) => next(new HandoverError("NOT_FOUND", "No such API endpoint")));
    api.use(this.errors);
    app.use(API_PREFIX, api);
    for (const routes of options.routes ?? []) app.use(routes);
    if (options.portalDir) this.servePortal(resolve(options.portalDir));
  }

  private servePortal(dir: string): void {
    if (!existsSync(join(dir, "index.html"))) {
      this.options.logger.warn({ dir }, "portal directory has no index.html; serving the API only");
      return;
    }
    this.app.use(express.static(dir, { index: false, maxAge: "1h" }));
    // Client-side routes (/rooms, /audit, ...) all load the one page.
    this.app.get("/{*path}", (_req, res) => {
      res.set("cache-control", "no-cache").sendFile(join(dir, "index.html"));
    });
  }

  private async handle(name: RouteName, route: RouteContract, req: Request, res: Response): Promise<void> {
    const token = readCookie(req.headers.cookie, SESSION_COOKIE);
    if (route.method !== "get" && req.headers.origin !== undefined && req.headers.origin !== this.origin) {
      throw new HandoverError("FORBIDDEN", "Cross-origin requests are not accepted");
    }
    let session: Session | null = null;
    if (route.access !== "public") {
      session = token ? await this.options.resolveSession(token) : null;
      if (!session) throw new HandoverError("UNAUTHENTICATED", "Sign in to continue");
      if (Array.isArray(route.access) && !route.access.includes(session.role)) {
        throw new HandoverError("FORBIDDEN", `This needs one of the roles: ${route.access.join(", ")}`);
      }
    }
    if (route.body && !req.is("application/json")) throw new HandoverError("VALIDATION_FAILED", "Send the request body as application/json");
    const context = {
      params: parseWith(route.params, req.params, "path"),
      query: parseWith(route.query, req.query, "query"),
      body: parseWith(route.body, req.body, "body"),
      session,
      sessionToken: token,
      clientAddress: req.ip ?? req.socket.remoteAddress ?? "unknown",
      setSession: (value: string, expiresAt: Date) =>
        res.cookie(SESSION_COOKIE, value, { httpOnly: true, sameSite: "strict", secure: this.secureCookies, path: "/", expires: expiresAt }),
      clearSession: () => res.clearCookie(SESSION_COOKIE, { httpOnly: true, sameSite: "strict", secure: this.secureCookies, path: "/" }),
    };
    const handler = this.options.handlers[name] as (context: unknown) => Promise<unknown>;
    const result = await handler(context);
    res.set("cache-control", "no-store");
    if (route.produces) res.type(route.produces).attachment(`${name}.${route.produces.split("/")[1]}`);
    res.status(route.status ?? 200).send(result);
    this.options.metrics.httpRequests.inc({ route: name, status: String(route.status ?? 200) });
  }

  private readonly errors = (error: unknown, req: Request, res: Response, _next: NextFunction): void => {
    const handoverError = toHandoverError(error);
    if (handoverError.code === "INTERNAL") this.options.logger.error({ err: error, path: req.path }, "admin API request failed");
    const status = STATUS_OF[handoverError.code];
    this.options.metrics.httpRequests.inc({ route: "(error)", status: String(status) });
    const retryAfter = retryAfterSeconds(handoverError);
    if (retryAfter !== null) res.set("retry-after", String(retryAfter));
    res.status(status).set("cache-control", "no-store").send(errorBody(handoverError));
  };

  async start(port: number, host: string): Promise<number> {
    const server = createServer(this.app);
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host, () => resolve());
    });
    this.server = server;
    const address = server.address();
    return typeof address === "object" && address ? address.port : port;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (!server) return;
    server.closeIdleConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
