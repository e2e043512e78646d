import { execFile } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { stringify } from "yaml";
import type { Handover } from "../../appservice/src/app.js";
import { CLASSIFICATION_EVENT_TYPE } from "../../appservice/src/domain/rooms/room.js";
import { API, type ErrorResponse, type Session } from "../../appservice/src/http/contract.js";
import { configYaml, writtenConfig } from "../support/config-yaml.js";
import { freshDatabase } from "../support/fresh-database.js";
import { startHandover } from "../support/handover-instance.js";
import { eventually, TestUser } from "../support/matrix-user.js";
import { PortalSession } from "../support/portal-session.js";

const run = promisify(execFile);
const stack = inject("stack");
const trust = stack.trusts.a;
const databaseUrl = await freshDatabase(stack.databaseUrls.a, "skeleton");

let handover: Handover;
let alice: TestUser; // a ward manager with the admin role in Handover
let bob: TestUser; // a nurse: a Matrix account but no Handover role
let roomId: string;

const api = (path: string) => `http://127.0.0.1:${handover.webPort}/api/v1${path}`;

async function transaction(txnId: string, body: unknown, token = trust.registration.hs_token): Promise<Response> {
  return fetch(`http://127.0.0.1:${trust.appservicePort}/_matrix/app/v1/transactions/${txnId}`, {
    method: "PUT",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

async function notices(roomId: string): Promise<string[]> {
  return (await alice.messages(roomId)).filter((event) => event.sender === handover.botUserId).map((event) => String(event.content.body));
}

beforeAll(async () => {
  alice = await TestUser.register(trust, `alice${Date.now()}`);
  bob = await TestUser.register(trust, `bob${Date.now()}`);
  handover = await startHandover(trust, databaseUrl, { roles: { [alice.userId]: "admin" } });
});

afterAll(async () => {
  await handover?.stop();
});

describe("walking skeleton on a real homeserver", () => {
  it("joins when a user invites the bot, and a moderator classifies the room by command", async () => {
    roomId = await alice.createRoom("Ward 7 clinical");
    await alice.invite(roomId, handover.botUserId);
    await eventually("the bot to join", async () => (await alice.members(roomId))[handover.botUserId] === "join");

    await alice.send(roomId, "!handover classify clinical");
    await eventually("the bot's confirmation", async () => (await notices(roomId)).includes("This room is now classified as clinical."));

    const state = await alice.state<{ kind: string; classified_by: string }>(roomId, CLASSIFICATION_EVENT_TYPE);
    expect(state).toMatchObject({ kind: "clinical", classified_by: alice.userId });

    const portal = await PortalSession.signIn(handover.webPort, alice.userId, alice.user.password);
    expect(portal.session).toMatchObject({ userId: alice.userId, role: "admin" } satisfies Partial<Session>);
    const rooms = await portal.ok(API.listRooms);
    expect(rooms.rooms.find((room) => room.roomId === roomId)).toMatchObject({
      kind: "clinical",
      name: "Ward 7 clinical",
      botJoined: true,
      classifiedBy: alice.userId,
    });
  });

  it("answers help and status, and refuses classification by a member below moderator", async () => {
    await alice.invite(roomId, bob.userId);
    await bob.request("POST", `/rooms/${encodeURIComponent(roomId)}/join`, {});
    await bob.send(roomId, "!handover classify operational");
    await eventually("a refusal", async () => (await notices(roomId)).some((text) => text.startsWith("Only room moderators")));
    expect((await alice.state<{ kind: string }>(roomId, CLASSIFICATION_EVENT_TYPE)).kind).toBe("clinical");
    await alice.send(roomId, "!handover status");
    await eventually("a status reply", async () => (await notices(roomId)).some((text) => text.includes("Room kind: clinical")));
  });

  it("processes a transaction the homeserver sends again only once", async () => {
    const event = {
      event_id: `$replayed-${Date.now()}`,
      room_id: roomId,
      sender: alice.userId,
      type: "m.room.message",
      origin_server_ts: Date.now(),
      content: { msgtype: "m.text", body: "!handover help" },
    };
    const before = (await notices(roomId)).length;
    const txnId = `replay-${Date.now()}`;
    expect((await transaction(txnId, { events: [event] })).status).toBe(200);
    await handover.pump.idle();
    expect((await transaction(txnId, { events: [event] })).status).toBe(200);
    await handover.pump.idle();
    await eventually("the help reply", async () => (await notices(roomId)).length === before + 1);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(await notices(roomId)).toHaveLength(before + 1);
  });

  it("refuses malformed transactions and a wrong homeserver token, recording nothing", async () => {
    const db = new pg.Client({ connectionString: databaseUrl });
    await db.connect();
    const count = async () => Number((await db.query("SELECT count(*) FROM appservice_transactions")).rows[0].count);
    const before = await count();
    expect((await transaction("bad-json", "{not json")).status).toBe(400);
    expect((await transaction("bad-shape", { events: "nope" })).status).toBe(400);
    expect(await (await transaction("bad-shape", [1, 2])).json()).toMatchObject({ errcode: "M_BAD_JSON" });
    expect((await transaction("wrong-token", { events: [] }, "not-the-token")).status).toBe(403);
    expect(await count()).toBe(before);
    // A malformed event inside a good transaction is set aside, not lost, and does not block the rest.
    expect((await transaction(`partly-bad-${Date.now()}`, { events: [{ type: "m.room.message" }] })).status).toBe(200);
    expect(Number((await db.query("SELECT count(*) FROM quarantined_events WHERE reason = 'event_id missing or not a string'")).rows[0].count)).toBeGreaterThan(
      0,
    );
    await db.end();
  });

  it("changes a room's kind from the API, audited with the actor; unknown fields are refused", async () => {
    const portal = await PortalSession.signIn(handover.webPort, alice.userId, alice.user.password);
    // An unknown field is what the contract's types refuse to write: sent by path.
    const refused = await portal.call<ErrorResponse>("PUT", `/rooms/${encodeURIComponent(roomId)}/classification`, { kind: "operational", colour: "blue" });
    expect(refused.status).toBe(400);
    expect(refused.body.error).toMatchObject({
      code: "VALIDATION_FAILED",
      details: [{ path: "colour", message: "unknown field" }],
    });
    expect((await alice.state<{ kind: string }>(roomId, CLASSIFICATION_EVENT_TYPE)).kind).toBe("clinical");

    const changed = await portal.call(API.classifyRoom, { params: { roomId }, body: { kind: "operational" } });
    expect(changed.status).toBe(200);
    expect((await alice.state<{ kind: string }>(roomId, CLASSIFICATION_EVENT_TYPE)).kind).toBe("operational");
    const audit = await portal.ok(API.listAudit, { query: { action: "room.classify", limit: 1 } });
    expect(audit.entries[0]).toMatchObject({ actor: alice.userId, target: roomId, details: { kind: "operational", previous: "clinical", via: "portal" } });
  });

  it("refuses sign-in without a role, with a wrong password, and API calls without a session", async () => {
    const noRole = await PortalSession.attempt(handover.webPort, { username: bob.userId, password: bob.user.password });
    expect(noRole.status).toBe(403);
    expect((noRole.body as ErrorResponse).error.code).toBe("NO_ROLE");
    expect(noRole.cookie).toBe("");
    expect((await PortalSession.attempt(handover.webPort, { username: alice.userId, password: "wrong password" })).status).toBe(401);
    expect((await fetch(api("/rooms"))).status).toBe(401);
  });

  it("serves health, readiness, metrics and the OpenAPI document", async () => {
    const base = `http://127.0.0.1:${handover.webPort}`;
    expect(await (await fetch(`${base}/readyz`)).json()).toEqual({ status: "ready", checks: { database: true, homeserver: true } });
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/handover_transactions_total\{outcome="accepted"\} \d+/);
    const openapi = (await (await fetch(api("/openapi.json"))).json()) as { openapi: string; paths: Record<string, unknown> };
    expect(openapi.openapi).toBe("3.1.0");
    expect(Object.keys(openapi.paths)).toContain("/api/v1/rooms/{roomId}/classification");
    const overview = await (await PortalSession.signIn(handover.webPort, alice.userId, alice.user.password)).ok(API.overview);
    expect(overview).toMatchObject({ homeserver: { reachable: true }, appservice: { registered: true }, rooms: { operational: expect.any(Number) } });
  });

  it("`handover audit verify` passes, then fails once a row is altered in the database", async () => {
    const dir = mkdtempSync(join(tmpdir(), "handover-cli-"));
    const configPath = join(dir, "config.yaml");
    writeFileSync(configPath, configYaml({ ...handover.config, web: { ...handover.config.web, portalDir: undefined } }));
    const cli = (...args: string[]) =>
      run(process.execPath, ["--import", "tsx", "appservice/src/cli.ts", ...args, "--config", configPath]).then(
        ({ stdout }) => ({ code: 0, out: stdout }),
        (error: { code: number; stdout: string; stderr: string }) => ({ code: error.code, out: error.stdout + error.stderr }),
      );
    const intact = await cli("audit", "verify");
    expect(intact).toMatchObject({ code: 0, out: expect.stringMatching(/audit trail intact/) });

    const db = new pg.Client({ connectionString: databaseUrl });
    await db.connect();
    // The table refuses changes; a person with the owner's rights can still switch that off.
    await expect(db.query("UPDATE audit_log SET actor = 'x' WHERE seq = 1")).rejects.toThrow(/append-only/);
    await db.query("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_change");
    await db.query("UPDATE audit_log SET actor = '@mallory:trust-a.test' WHERE seq = 2");
    await db.query("ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_change");
    await db.end();

    const tampered = await cli("audit", "verify");
    expect(tampered.code).toBe(1);
    expect(tampered.out).toMatch(/entry 2: entry was altered/);
  });

  it("`handover config check` names the bad key of an invalid config", async () => {
    const dir = mkdtempSync(join(tmpdir(), "handover-cli-"));
    const configPath = join(dir, "config.yaml");
    writeFileSync(
      configPath,
      stringify({ ...writtenConfig(handover.config), web: { ...handover.config.web, portalDir: undefined }, access: { sessionTtl: "forever", rolez: {} } }),
    );
    const result = await run(process.execPath, ["--import", "tsx", "appservice/src/cli.ts", "config", "check", "--config", configPath]).catch(
      (error: { code: number; stderr: string }) => error,
    );
    expect(result).toMatchObject({ code: 2 });
    expect((result as { stderr: string }).stderr).toMatch(/access.rolez: unknown key/);
    expect((result as { stderr: string }).stderr).toMatch(/access.sessionTtl: expected a duration/);
  });
});
