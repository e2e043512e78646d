import { API_PREFIX, type ErrorCode, errorResponseSchema, type RouteContract } from "@handover/appservice/contract";

/** Failures that happen before the API could answer in its own words. */
export type ClientErrorCode = "NETWORK" | "UNEXPECTED_RESPONSE";

export interface FieldProblem {
  path: string;
  message: string;
}

export class ApiError extends Error {
  override readonly name = "ApiError";

  constructor(
    readonly status: number,
    readonly code: ErrorCode | ClientErrorCode,
    message: string,
    readonly details: readonly FieldProblem[] = [],
  ) {
    super(message);
  }
}

export interface RequestOptions {
  params?: Readonly<Record<string, string>>;
  query?: Readonly<Record<string, string | number | undefined>>;
  body?: unknown;
}

/** The payload a route answers with, as its contract schema parses it. */
export type ResponseOf<R extends RouteContract> = ReturnType<R["response"]["parse"]>;

type Listener = () => void;
let unauthenticatedListener: Listener | null = null;

/**
 * Called when a call that needs a session is refused with 401, so the app can forget the
 * person and send them to sign in. A setter rather than an import of the store keeps this
 * module below the stores in the dependency order.
 */
export function onUnauthenticated(listener: Listener | null): void {
  unauthenticatedListener = listener;
}

export async function request<R extends RouteContract>(route: R, options: RequestOptions = {}): Promise<ResponseOf<R>> {
  const headers: Record<string, string> = { Accept: "application/json" };
  const init: RequestInit = { method: route.method.toUpperCase(), credentials: "same-origin", headers };
  if (options.body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(options.body);
  }

  const url = urlFor(route.path, options);
  let response = await send(url, init);
  let payload = await readJson(response);
  // A standby Handover (docs/install.md, "Large trusts") refuses everything without acting, and
  // the balancer sends no POST on after it: once more reaches the active process.
  if (answeredByStandby(response.status, payload)) {
    response = await send(url, init);
    payload = await readJson(response);
  }
  if (!response.ok) {
    if (response.status === 401 && route.access !== "public") unauthenticatedListener?.();
    throw errorFrom(response.status, payload);
  }
  // Parsing with the contract's schema means a server/portal mismatch fails here, loudly,
  // rather than as a blank cell somewhere in a table.
  const parsed = route.response.safeParse(payload);
  if (!parsed.success) {
    throw new ApiError(response.status, "UNEXPECTED_RESPONSE", "Handover sent a response this portal does not understand. Try reloading the page.");
  }
  return parsed.data as ResponseOf<R>;
}

async function send(url: string, init: RequestInit): Promise<Response> {
  try {
    return await fetch(url, init);
  } catch {
    throw new ApiError(0, "NETWORK", "Handover could not be reached. Check your connection and try again.");
  }
}

function answeredByStandby(status: number, payload: unknown): boolean {
  if (status !== 503 || typeof payload !== "object" || payload === null) return false;
  const error: unknown = (payload as { error?: unknown }).error;
  return typeof error === "object" && error !== null && (error as { code?: unknown }).code === "STANDBY";
}

function urlFor(path: string, { params = {}, query = {} }: RequestOptions): string {
  const filled = path.replace(/:([A-Za-z]+)/g, (_, name: string) => {
    const value = params[name];
    if (value === undefined) throw new Error(`No value for path parameter ${name} in ${path}`);
    return encodeURIComponent(value);
  });
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined) search.set(key, String(value));
  }
  const qs = search.toString();
  return `${API_PREFIX}${filled}${qs ? `?${qs}` : ""}`;
}

async function readJson(response: Response): Promise<unknown> {
  const text = await response.text();
  if (text === "") return {};
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function errorFrom(status: number, payload: unknown): ApiError {
  const parsed = errorResponseSchema.safeParse(payload);
  if (!parsed.success) {
    return new ApiError(status, "UNEXPECTED_RESPONSE", `Handover could not complete the request (HTTP ${status}). Try again later.`);
  }
  const { code, message, details = [] } = parsed.data.error;
  return new ApiError(status, code, message, details);
}
