import { randomUUID } from "node:crypto";
import { createServer as createHttpServer, type Server as HttpServer, type ServerResponse } from "node:http";
import { type AddressInfo, createServer as createTcpServer, type Socket, type Server as TcpServer } from "node:net";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { Handover } from "../../appservice/src/app.js";
import { Ed25519Key, signMessage } from "../../appservice/src/domain/federation/signed-message.js";
import type { Agreement, AgreementDetail, ExpectedPartners } from "../../appservice/src/http/contract.js";
import { freePort } from "../harness/util.js";
import { freshDatabase } from "../support/fresh-database.js";
import { startHandover } from "../support/handover-instance.js";
import { eventually, TestUser } from "../support/matrix-user.js";
import { PortalSession } from "../support/portal-session.js";
import { federationConfig, PROPOSAL } from "./federation-support.js";

// Hostile senders at A's inbox (docs/security.md, "Other trusts' servers"). The stand-in key
// servers are loopback listeners that count what reaches them; A maps the *.hostile.test
// names to them (federation.peers) and lists *.hostile.test as expected partners, so those get
// as far as the key fetch; anything else from a stranger must cause no request at all.

const stack = inject("stack");
const { a: trustA, b: trustB } = stack.trusts;
const databaseUrlA = await freshDatabase(stack.databaseUrls.a, "federation_inbox_a");
const databaseUrlB = await freshDatabase(stack.databaseUrls.b, "federation_inbox_b");
const PASSWORD = "federation-inbox-password";
const stamp = Date.now().toString(36);

interface Listener {
  port: number;
  connections: number;
  requests: number;
  finished: number;
  server: HttpServer | TcpServer;
  sockets: Set<Socket>;
}

const listeners: Listener[] = [];

/** An HTTP stand-in for a key server that counts connections, requests and completed answers. */
async function httpListener(answer: (res: ServerResponse, listener: Listener) => void): Promise<Listener> {
  const server = createHttpServer();
  const listener: Listener = { port: 0, connections: 0, requests: 0, finished: 0, server, sockets: new Set() };
  server.on("connection", (socket) => {
    listener.connections++;
    listener.sockets.add(socket);
  });
  server.on("request", (_req, res) => {
    listener.requests++;
    res.on("finish", () => listener.finished++);
    answer(res, listener);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  listener.port = (server.address() as AddressInfo).port;
  listeners.push(listener);
  return listener;
}

/** A raw TCP listener: sees any connection (TLS or not) and never answers. */
async function silentListener(): Promise<Listener> {
  const server = createTcpServer();
  const listener: Listener = { port: 0, connections: 0, requests: 0, finished: 0, server, sockets: new Set() };
  server.on("connection", (socket) => {
    listener.connections++;
    listener.sockets.add(socket);
    socket.on("data", () => {
      listener.requests++;
    });
    socket.on("error", () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  listener.port = (server.address() as AddressInfo).port;
  listeners.push(listener);
  return listener;
}

let handoverA: Handover;
let handoverB: Handover;
let portalA: PortalSession;
let portalB: PortalSession;
let loopbackTarget: Listener; // must never be reached
let redirectTarget: Listener;
let redirecting: Listener;
let huge: Listener;
let leaky: Listener;
let hanging: Listener;
let late: Listener;

const inboxA = () => `http://127.0.0.1:${handoverA.webPort}/_handover/federation/v1/inbox`;

/** A proposal signed by a key nobody published, claiming to come from `from`. */
function forged(from: string): Record<string, unknown> {
  const now = Date.now();
  return signMessage(
    {
      id: randomUUID(),
      type: "agreement.propose",
      from,
      to: trustA.serverName,
      issued_at: new Date(now).toISOString(),
      expires_at: new Date(now + 600_000).toISOString(),
      key_id: "ed25519:forged",
      agreement_id: randomUUID(),
      payload: { terms: PROPOSAL },
    },
    Ed25519Key.generate("ed25519:forged"),
  ) as unknown as Record<string, unknown>;
}

async function postToA(body: unknown): Promise<{ status: number; text: string; reason?: string }> {
  const response = await fetch(inboxA(), { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  const text = await response.text();
  const reason = (JSON.parse(text) as { reason?: string }).reason;
  return { status: response.status, text, ...(reason ? { reason } : {}) };
}

beforeAll(async () => {
  const alice = await TestUser.register(trustA, `alice-inbox-${stamp}`, PASSWORD);
  const bob = await TestUser.register(trustB, `bob-inbox-${stamp}`, PASSWORD);
  loopbackTarget = await silentListener();
  redirectTarget = await httpListener((res) => res.end("{}"));
  redirecting = await httpListener((res) =>
    res.writeHead(302, { location: `http://127.0.0.1:${redirectTarget.port}/.well-known/handover/organisation` }).end(),
  );
  // 32 MB of JSON, far beyond what the kernel buffers between the two ends: it "finishes" only
  // if the reader takes all of it.
  huge = await httpListener((res) => {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(`{"padding":"${"x".repeat(32 * 1024 * 1024)}"}`);
  });
  leaky = await httpListener((res) => res.writeHead(200, { "content-type": "text/html" }).end("SECRET-INTRANET-PAGE: ward list, bed 4"));
  hanging = await silentListener();
  late = await httpListener((res) => res.writeHead(404).end());
  const [portA, portB] = [await freePort(), await freePort()];
  handoverA = await startHandover(trustA, databaseUrlA, {
    webPort: portA,
    roles: { [alice.userId]: "admin" },
    federation: federationConfig(trustA, trustB, portB, "RAA", {
      peers: {
        [trustB.serverName]: `http://127.0.0.1:${portB}`,
        "redirect.hostile.test": `http://127.0.0.1:${redirecting.port}`,
        "huge.hostile.test": `http://127.0.0.1:${huge.port}`,
        "leaky.hostile.test": `http://127.0.0.1:${leaky.port}`,
        "hang.hostile.test": `http://127.0.0.1:${hanging.port}`,
        "late.partner.test": `http://127.0.0.1:${late.port}`,
      },
      expectedPartners: [trustB.serverName, "*.hostile.test"],
      // Longer than the whole test: the hanging key server stays pending throughout.
      peerTimeout: "10m",
    }),
  });
  handoverB = await startHandover(trustB, databaseUrlB, {
    webPort: portB,
    roles: { [bob.userId]: "admin" },
    federation: federationConfig(trustB, trustA, portA, "RBB"),
  });
  portalA = await PortalSession.signIn(handoverA.webPort, alice.userId, PASSWORD);
  portalB = await PortalSession.signIn(handoverB.webPort, bob.userId, PASSWORD);
});

afterAll(async () => {
  for (const listener of listeners) {
    for (const socket of listener.sockets) socket.destroy();
    listener.server.close();
  }
  await handoverA?.stop();
  await handoverB?.stop();
});

describe("the federation inbox and strangers", () => {
  it("a listener on loopback sees no connection after a forged inbox message from a stranger", async () => {
    for (const from of [`127.0.0.1:${loopbackTarget.port}`, `127.0.0.1:${loopbackTarget.port}/`, `localhost:${loopbackTarget.port}`]) {
      const answer = await postToA(forged(from));
      expect(answer.status).toBeGreaterThanOrEqual(400);
      expect(["unexpected_sender", "malformed"]).toContain(answer.reason);
    }
    expect(loopbackTarget.connections).toBe(0);
  });

  it("a redirecting key server is refused and its target never reached", async () => {
    const answer = await postToA(forged("redirect.hostile.test"));
    expect(answer.status).toBeGreaterThanOrEqual(400);
    expect(redirecting.requests).toBe(1);
    expect(redirectTarget.connections).toBe(0);
  });

  it("an oversized key document is cut off, not read to the end", async () => {
    const answer = await postToA(forged("huge.hostile.test"));
    expect(answer.status).toBeGreaterThanOrEqual(400);
    expect(huge.requests).toBe(1);
    await eventually("A to hang up on the oversized answer", async () => huge.sockets.size > 0 && [...huge.sockets].every((s) => s.destroyed));
    expect(huge.finished).toBe(0);
  });

  it("the error body echoes nothing of what the sender's server answered", async () => {
    const answer = await postToA(forged("leaky.hostile.test"));
    expect(answer.status).toBeGreaterThanOrEqual(400);
    expect(leaky.requests).toBe(1);
    expect(answer.text).not.toMatch(/SECRET|INTRANET|ward|bed/);
  });

  it("a server an admin lists in the portal may make first contact; adding and removing it are audited", async () => {
    expect((await postToA(forged("late.partner.test"))).reason).toBe("unexpected_sender");
    expect(late.connections).toBe(0);
    const added = await portalA.call<ExpectedPartners>("POST", "/federation/expected-partners", { pattern: "late.partner.test" });
    expect(added.status).toBe(201);
    expect(added.body.fromConfig).toEqual([trustB.serverName, "*.hostile.test"]);
    expect(added.body.added.map((row) => row.pattern)).toEqual(["late.partner.test"]);
    expect((await postToA(forged("late.partner.test"))).status).toBeGreaterThanOrEqual(400);
    expect(late.requests).toBe(1);
    const removed = await portalA.call<ExpectedPartners>("DELETE", `/federation/expected-partners/${encodeURIComponent("late.partner.test")}`);
    expect(removed.body.added).toEqual([]);
    expect((await postToA(forged("late.partner.test"))).reason).toBe("unexpected_sender");
    expect(late.requests).toBe(1);
    for (const action of ["federation.expected_partner.added", "federation.expected_partner.removed"]) {
      const audit = await portalA.call<{ entries: { action: string; target: string; actor: string }[] }>("GET", `/audit?action=${action}`);
      expect(audit.body.entries.map((e) => e.target)).toEqual(["late.partner.test"]);
    }
    // A URL is not a pattern.
    expect((await portalA.call("POST", "/federation/expected-partners", { pattern: "http://127.0.0.1/" })).status).toBe(400);
  });

  it("a bogus sender whose key server never answers is still pending while B's revocation is applied", async () => {
    const proposed = await portalA.call<Agreement>("POST", "/federation/agreements", { peerServerName: trustB.serverName, ...PROPOSAL });
    expect(proposed.body.undelivered).toBe(0);
    const agreementId = proposed.body.id;
    expect((await portalB.call<Agreement>("POST", `/federation/agreements/${agreementId}/actions`, { action: "accept" })).body.status).toBe("active");
    await eventually(
      "A to see the agreement active",
      async () => (await portalA.call<AgreementDetail>("GET", `/federation/agreements/${agreementId}`)).body.agreement.status === "active",
    );

    let bogusSettled = false;
    const bogus = postToA(forged("hang.hostile.test")).finally(() => {
      bogusSettled = true;
    });
    await eventually("A to be fetching the bogus sender's key", async () => hanging.requests > 0);

    const revoked = await portalB.call<Agreement>("POST", `/federation/agreements/${agreementId}/actions`, { action: "revoke", reason: "Network dissolved" });
    expect(revoked.body).toMatchObject({ status: "revoked", undelivered: 0 });
    await eventually(
      "A to apply B's revocation",
      async () => (await portalA.call<AgreementDetail>("GET", `/federation/agreements/${agreementId}`)).body.agreement.status === "revoked",
    );
    expect(bogusSettled).toBe(false);
    // Let the hanging request end: A answers the bogus sender with a refusal.
    for (const socket of hanging.sockets) socket.destroy();
    expect((await bogus).status).toBeGreaterThanOrEqual(400);
  });
});
