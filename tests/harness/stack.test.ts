import { randomBytes } from "node:crypto";
import pg from "pg";
import { describe, expect, inject, it } from "vitest";
import type { TrustInfo } from "./stack.js";
import type { MatrixUser } from "./synapse.js";
import { login, matrixRequest, registerUser } from "./synapse.js";
import { sleep } from "./util.js";

const stack = inject("stack");
if (!stack) throw new Error("no test stack: run with tests/harness/global-setup.ts as the Vitest globalSetup");
const { a, b } = stack.trusts;

function call<T>(trust: TrustInfo, user: { accessToken: string } | undefined, method: string, path: string, body?: unknown): Promise<T> {
  return matrixRequest<T>(`${trust.clientUrl}${path}`, {
    method,
    ...(user ? { accessToken: user.accessToken } : {}),
    ...(body === undefined ? {} : { body }),
  });
}

function newUser(trust: TrustInfo, name: string): Promise<MatrixUser> {
  return registerUser(trust, `${name}-${randomBytes(3).toString("hex")}`, randomBytes(9).toString("hex"));
}

describe("test stack", () => {
  it("runs two homeservers with the federation port in their names", async () => {
    for (const trust of [a, b]) {
      const versions = await call<{ versions: string[] }>(trust, undefined, "GET", "/_matrix/client/versions");
      expect(versions.versions.length).toBeGreaterThan(0);
      expect(trust.serverName).toBe(`trust-${trust.key}.test:${trust.federationPort}`);
    }
    expect(a.serverName).not.toBe(b.serverName);
  });

  it("gives Handover a server-admin account", async () => {
    for (const trust of [a, b]) {
      const id = encodeURIComponent(trust.admin.userId);
      const user = await call<{ admin: boolean }>(trust, trust.admin, "GET", `/_synapse/admin/v2/users/${id}`);
      expect(user.admin).toBe(true);
    }
  });

  it("loads Handover's registration (its as_token is the bot's)", async () => {
    const whoami = await call<{ user_id: string }>(a, { accessToken: a.registration.as_token }, "GET", "/_matrix/client/v3/account/whoami");
    expect(whoami.user_id).toBe(`@${a.registration.sender_localpart}:${a.serverName}`);
    expect(a.registration.url).toBe(`http://127.0.0.1:${a.appservicePort}`);
  });

  it("registers ordinary users who can log in again", async () => {
    const user = await newUser(a, "carol");
    const again = await login(a, user.userId.slice(1).split(":")[0] ?? "", user.password);
    expect(again.userId).toBe(user.userId);
    const admin = await call<{ admin: boolean }>(a, a.admin, "GET", `/_synapse/admin/v2/users/${encodeURIComponent(user.userId)}`);
    expect(admin.admin).toBe(false);
  });

  it("federates: a user on B joins A's public room and A sees B's message", async () => {
    const [alice, bob] = await Promise.all([newUser(a, "alice"), newUser(b, "bob")]);
    const alias = `fed-${randomBytes(3).toString("hex")}`;
    const { room_id: roomId } = await call<{ room_id: string }>(a, alice, "POST", "/_matrix/client/v3/createRoom", {
      preset: "public_chat",
      room_alias_name: alias,
      name: "federation check",
    });
    // Joining by alias makes B ask A's directory over federation, then join through A.
    const fullAlias = encodeURIComponent(`#${alias}:${a.serverName}`);
    const joined = await call<{ room_id: string }>(b, bob, "POST", `/_matrix/client/v3/join/${fullAlias}`, {});
    expect(joined.room_id).toBe(roomId);

    const body = `hello from B ${randomBytes(4).toString("hex")}`;
    const room = encodeURIComponent(roomId);
    await call(b, bob, "PUT", `/_matrix/client/v3/rooms/${room}/send/m.room.message/t${Date.now()}`, { msgtype: "m.text", body });

    const deadline = Date.now() + 30_000;
    let seen: { sender: string } | undefined;
    while (!seen && Date.now() < deadline) {
      const page = await call<{
        chunk: { type: string; sender: string; content: { body?: string } }[];
      }>(a, alice, "GET", `/_matrix/client/v3/rooms/${room}/messages?dir=b&limit=20`);
      seen = page.chunk.find((e) => e.type === "m.room.message" && e.content.body === body);
      if (!seen) await sleep(200);
    }
    expect(seen?.sender).toBe(bob.userId);
  });

  it("gives each trust its own PostgreSQL database", async () => {
    expect(stack.databaseUrls.a).not.toBe(stack.databaseUrls.b);
    for (const url of [stack.databaseUrls.a, stack.databaseUrls.b]) {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        const { rows } = await client.query<{ db: string }>("select current_database() as db");
        expect(url.endsWith(`/${rows[0]?.db}`)).toBe(true);
      } finally {
        await client.end();
      }
    }
  });
});
