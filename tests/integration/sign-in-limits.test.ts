import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { Handover } from "../../appservice/src/app.js";
import type { AuditPage, ErrorResponse } from "../../appservice/src/http/contract.js";
import { createLogger } from "../../appservice/src/logger.js";
import { readRegistrationTokens } from "../../appservice/src/matrix/registration-file.js";
import { registerUser, type SynapseServer, startSynapse } from "../harness/synapse.js";
import { SYNAPSE_DEFAULT_LOGIN_LIMITS } from "../harness/synapse-config.js";
import { freshDatabase } from "../support/fresh-database.js";
import { configFor, migrateDatabase } from "../support/handover-instance.js";

// Handover relays portal passwords to Synapse. Synapse counts logins per address (5, then
// one per 5 minutes) and failed logins per account: if every sign-in came from Handover's
// own address, a few bad guesses by anyone would lock every admin out. This homeserver has
// Synapse's real login limits (the shared stack lifts them) and believes X-Forwarded-For
// (`x_forwarded: true`), as docs/install.md tells a trust to set.

const stack = inject("stack");
const METRICS_TOKEN = randomBytes(32).toString("hex");
const ATTACKER = "203.0.113.50";
const ADMIN_DESK = "198.51.100.20";

let synapse: SynapseServer;
let handover: Handover;
let adminUserId: string;
const adminPassword = randomBytes(12).toString("hex");

const web = (path: string) => `http://127.0.0.1:${handover.webPort}${path}`;

/** A sign-in through a reverse proxy on loopback (a trusted proxy) for a client at `from`. */
function signIn(username: string, password: string, from: string): Promise<Response> {
  return fetch(web("/api/v1/session"), {
    method: "POST",
    headers: { "content-type": "application/json", "x-forwarded-for": from },
    body: JSON.stringify({ username, password }),
  });
}

beforeAll(async () => {
  synapse = await startSynapse({
    root: stack.root,
    key: "a",
    runDir: join(stack.runDir, `sign-in-limits-${randomBytes(3).toString("hex")}`),
    extraConfig: SYNAPSE_DEFAULT_LOGIN_LIMITS,
    xForwarded: true,
  });
  adminUserId = (await registerUser(synapse, `it.admin${Date.now()}`, adminPassword)).userId;
  const trust = { ...synapse, key: "a" as const };
  const databaseUrl = await freshDatabase(stack.databaseUrls.a, "sign_in_limits");
  const config = await configFor(trust, databaseUrl, { roles: { [adminUserId]: "admin" } });
  config.web.metricsToken = METRICS_TOKEN;
  await migrateDatabase(databaseUrl);
  handover = new Handover(config, await readRegistrationTokens(config.appservice.registrationFile), {
    logger: createLogger(config.logging.level, "handover-sign-in-limits"),
  });
  await handover.start();
});

afterAll(async () => {
  await handover?.stop();
  await synapse?.stop();
});

describe("sign-in cannot be used to lock admins out", () => {
  let lastGuess: Response;

  it("after eight bad sign-ins for a made-up name, a real admin still signs in", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) {
      lastGuess = await signIn("made-up-name", `guess-${i}`, ATTACKER);
      statuses.push(lastGuess.status);
    }

    const admin = await signIn(adminUserId, adminPassword, ADMIN_DESK);
    expect(admin.status, JSON.stringify(await admin.clone().json())).toBe(201);
    // The guesses were refused as guesses (401) or over a limit (429), never as a homeserver failure.
    expect(
      statuses.every((status) => status === 401 || status === 429),
      `statuses ${statuses.join(", ")}`,
    ).toBe(true);
  });

  it("answers 429 with Retry-After once a name has too many failures", async () => {
    expect(lastGuess.status).toBe(429);
    expect(Number(lastGuess.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(((await lastGuess.json()) as ErrorResponse).error.code).toBe("RATE_LIMITED");
  });

  it("keeps no raw unknown name in the audit trail", async () => {
    const typedPassword = `Ward7-${randomBytes(4).toString("hex")}`;
    expect((await signIn(typedPassword, "whatever", "198.51.100.77")).status).toBe(401);
    const session = await signIn(adminUserId, adminPassword, ADMIN_DESK);
    const cookie = (session.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
    const page = (await (await fetch(web("/api/v1/audit?action=session.sign_in_failed&limit=50"), { headers: { cookie } })).json()) as AuditPage;
    expect(page.entries.length).toBeGreaterThan(0);
    expect(JSON.stringify(page)).not.toContain(typedPassword);
    expect(JSON.stringify(page)).not.toContain("made-up-name");
    expect(page.entries[0]).toMatchObject({ target: "unknown account", details: { clientAddress: "198.51.100.77", accountHash: expect.any(String) } });
  });

  it("/metrics needs the configured bearer token", async () => {
    expect((await fetch(web("/metrics"))).status).toBe(401);
    expect((await fetch(web("/metrics"), { headers: { authorization: "Bearer wrong" } })).status).toBe(401);
    const allowed = await fetch(web("/metrics"), { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    expect(allowed.status).toBe(200);
    expect(await allowed.text()).toMatch(/handover_http_requests_total/);
  });
});
