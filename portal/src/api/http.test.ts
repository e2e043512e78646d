// @vitest-environment happy-dom
import { API } from "@handover/appservice/contract";
import { afterEach, describe, expect, it, vi } from "vitest";
import { ApiError, onUnauthenticated, request } from "./http";

function answer(status: number, body: unknown): void {
  vi.stubGlobal(
    "fetch",
    vi.fn(async () => new Response(body === undefined ? null : JSON.stringify(body), { status })),
  );
}

async function refusal(call: Promise<unknown>): Promise<ApiError> {
  const error: unknown = await call.then(
    () => null,
    (caught: unknown) => caught,
  );
  if (!(error instanceof ApiError)) throw new Error(`expected an ApiError, got ${String(error)}`);
  return error;
}

describe("request", () => {
  afterEach(() => {
    vi.unstubAllGlobals();
    onUnauthenticated(null);
  });

  it("calls the contract's path under /api/v1 with the session cookie and parses the answer", async () => {
    answer(200, { userId: "@a:trust.example", role: "admin", roleFrom: { kind: "config" }, expiresAt: "2030-01-01T00:00:00Z", extra: 1 });

    const session = await request(API.currentSession);

    expect(session).toEqual({ userId: "@a:trust.example", role: "admin", roleFrom: { kind: "config" }, expiresAt: "2030-01-01T00:00:00Z" });
    expect(fetch).toHaveBeenCalledWith("/api/v1/session", expect.objectContaining({ method: "GET", credentials: "same-origin" }));
  });

  it("encodes path parameters and sends JSON bodies", async () => {
    answer(200, { roomId: "!r:t", name: null, kind: "clinical", encrypted: true, botJoined: true, classifiedBy: "@a:t", classifiedAt: null });

    await request(API.classifyRoom, { params: { roomId: "!r:t" }, body: { kind: "clinical" } });

    expect(fetch).toHaveBeenCalledWith("/api/v1/rooms/!r%3At/classification", expect.objectContaining({ method: "PUT", body: '{"kind":"clinical"}' }));
  });

  it("sends a request again once when a standby Handover answered it (it did nothing), not on other 503s", async () => {
    const standby = { error: { code: "STANDBY", message: "This Handover process is on standby: another one is active" } };
    const classified = { roomId: "!r:t", name: null, kind: "clinical", encrypted: true, botJoined: true, classifiedBy: "@a:t", classifiedAt: null };
    const answers = [new Response(JSON.stringify(standby), { status: 503 }), new Response(JSON.stringify(classified), { status: 200 })];
    vi.stubGlobal(
      "fetch",
      vi.fn(async () => answers.shift()),
    );

    expect(await request(API.classifyRoom, { params: { roomId: "!r:t" }, body: { kind: "clinical" } })).toMatchObject({ kind: "clinical" });
    expect(fetch).toHaveBeenCalledTimes(2);

    answer(503, { error: { code: "INTERNAL", message: "busy" } });
    await refusal(request(API.classifyRoom, { params: { roomId: "!r:t" }, body: { kind: "clinical" } }));
    expect(fetch).toHaveBeenCalledTimes(1);
  });

  it("turns the API's error body into an ApiError with code, message, details and status", async () => {
    answer(400, { error: { code: "VALIDATION_FAILED", message: "Check the kind", details: [{ path: "kind", message: "Required" }] } });

    const error = await refusal(request(API.classifyRoom, { params: { roomId: "!r:t" }, body: {} }));

    expect(error).toMatchObject({ status: 400, code: "VALIDATION_FAILED", message: "Check the kind", details: [{ path: "kind", message: "Required" }] });
  });

  it("reports a 401 on a signed-in call as a lost session, but not a refused sign-in", async () => {
    const lost = vi.fn();
    onUnauthenticated(lost);
    answer(401, { error: { code: "SIGN_IN_FAILED", message: "Wrong user ID or password" } });
    await refusal(request(API.signIn, { body: { username: "a", password: "b" } }));
    expect(lost).not.toHaveBeenCalled();

    answer(401, { error: { code: "UNAUTHENTICATED", message: "Sign in again" } });
    await refusal(request(API.overview));
    expect(lost).toHaveBeenCalledOnce();
  });

  it("says so plainly when the server cannot be reached or answers in an unknown shape", async () => {
    vi.stubGlobal(
      "fetch",
      vi.fn(async () => Promise.reject(new TypeError("Failed to fetch"))),
    );
    expect(await refusal(request(API.overview))).toMatchObject({ status: 0, code: "NETWORK" });

    answer(502, undefined);
    expect(await refusal(request(API.overview))).toMatchObject({ status: 502, code: "UNEXPECTED_RESPONSE" });

    answer(200, { rooms: "not a list" });
    expect(await refusal(request(API.listRooms))).toMatchObject({ code: "UNEXPECTED_RESPONSE" });
  });
});
