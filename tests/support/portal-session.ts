import type { z } from "zod";
import { API, API_PREFIX, type ErrorResponse, type RouteContract, type Session, type SignInRequest } from "../../appservice/src/http/contract.js";

/** The parts of a call a route's contract describes, typed by its schemas (absent where it has none). */
export interface RouteInput<R extends RouteContract> {
  params?: R extends { params: infer P extends z.ZodType } ? z.input<P> : never;
  query?: R extends { query: infer Q extends z.ZodType } ? z.input<Q> : never;
  body?: R extends { body: infer B extends z.ZodType } ? z.input<B> : never;
}

/** What a route answers on success, as its contract schema parses it. */
export type ResponseOf<R extends RouteContract> = z.output<R["response"]>;

export interface Answer<T> {
  status: number;
  body: T;
}

/** A sign-in's answer: the session and its cookie, or the API's refusal (and no cookie). */
export interface SignInAttempt {
  status: number;
  cookie: string;
  body: Session | ErrorResponse;
}

function pathOf(route: RouteContract, params: Record<string, string> = {}, query: Record<string, unknown> = {}): string {
  const filled = route.path.replace(/:([A-Za-z]+)/g, (_, name: string) => {
    const value = params[name];
    if (value === undefined) throw new Error(`no value for path parameter ${name} of ${route.path}`);
    return encodeURIComponent(value);
  });
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (value !== undefined) search.set(key, String(value));
  const qs = search.toString();
  return `${filled}${qs ? `?${qs}` : ""}`;
}

/**
 * A person signed in to one Handover's admin API, holding the session cookie as the portal's
 * browser would. Calls name their route in the contract's table (`API.listRooms`), so the
 * request and the answer are typed by the same schemas the server validates with, and a
 * successful answer is parsed with the route's response schema: a test sees the contract break.
 * `call`/`ok` with a method and a path remain for what the contract cannot type (a refused
 * body with unknown fields, an endpoint's raw form) and for older tests.
 */
export class PortalSession {
  private constructor(
    readonly webPort: number,
    readonly cookie: string,
    /** The session as the sign-in answered it. */
    readonly session: Session,
  ) {}

  /** Tries to sign in and reports what the API answered, refusals included. */
  static async attempt(webPort: number, credentials: SignInRequest): Promise<SignInAttempt> {
    const response = await fetch(`http://127.0.0.1:${webPort}${API_PREFIX}${API.signIn.path}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(credentials),
    });
    const cookie = (response.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
    return { status: response.status, cookie, body: (await response.json()) as Session | ErrorResponse };
  }

  static async signIn(webPort: number, username: string, password: string): Promise<PortalSession> {
    const attempt = await PortalSession.attempt(webPort, { username, password });
    if (attempt.status !== API.signIn.status) throw new Error(`sign-in of ${username} failed: ${attempt.status} ${JSON.stringify(attempt.body)}`);
    return new PortalSession(webPort, attempt.cookie, API.signIn.response.parse(attempt.body));
  }

  /** A call to a route of the contract: its success is the route's response; a refusal, the API's error body. */
  call<R extends RouteContract>(route: R, input?: RouteInput<R>): Promise<Answer<ResponseOf<R> | ErrorResponse>>;
  call<T>(method: string, path: string, body?: unknown): Promise<Answer<T>>;
  async call(routeOrMethod: RouteContract | string, pathOrInput?: string | RouteInput<RouteContract>, rawBody?: unknown): Promise<Answer<unknown>> {
    if (typeof routeOrMethod === "string") return this.send(routeOrMethod, pathOrInput as string, rawBody);
    const route = routeOrMethod;
    const input = (pathOrInput ?? {}) as { params?: Record<string, string>; query?: Record<string, unknown>; body?: unknown };
    const answer = await this.send(route.method.toUpperCase(), pathOf(route, input.params, input.query), input.body);
    if (answer.status >= 300 || route.produces) return answer;
    return { status: answer.status, body: route.response.parse(answer.body) };
  }

  /** As `call`, for a call expected to succeed: its answer, or an error naming what the API said. */
  ok<R extends RouteContract>(route: R, input?: RouteInput<R>): Promise<ResponseOf<R>>;
  ok<T>(method: string, path: string, body?: unknown): Promise<T>;
  async ok(routeOrMethod: RouteContract | string, pathOrInput?: string | RouteInput<RouteContract>, rawBody?: unknown): Promise<unknown> {
    const answer =
      typeof routeOrMethod === "string"
        ? await this.call<unknown>(routeOrMethod, pathOrInput as string, rawBody)
        : await this.call(routeOrMethod, pathOrInput as RouteInput<RouteContract>);
    const what = typeof routeOrMethod === "string" ? `${routeOrMethod} ${String(pathOrInput)}` : `${routeOrMethod.method.toUpperCase()} ${routeOrMethod.path}`;
    if (answer.status >= 300) throw new Error(`${what} answered ${answer.status}: ${JSON.stringify(answer.body)}`);
    return answer.body;
  }

  /** A raw request with this session's cookie, for answers that are not JSON (CSV exports). */
  fetch(path: string, init: RequestInit = {}): Promise<Response> {
    return fetch(`http://127.0.0.1:${this.webPort}${API_PREFIX}${path}`, { ...init, headers: { ...init.headers, cookie: this.cookie } });
  }

  private async send(method: string, path: string, body: unknown): Promise<Answer<unknown>> {
    const response = await this.fetch(path, {
      method,
      ...(body === undefined ? {} : { headers: { "content-type": "application/json" }, body: JSON.stringify(body) }),
    });
    const text = await response.text();
    const json = (response.headers.get("content-type") ?? "").includes("json");
    return { status: response.status, body: json && text ? JSON.parse(text) : text === "" ? {} : text };
  }
}
