import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { Handover } from "../../appservice/src/app.js";
import type { PortalSessionList, Session, SignInFlows } from "../../appservice/src/http/contract.js";
import { createLogger } from "../../appservice/src/logger.js";
import { readRegistrationTokens } from "../../appservice/src/matrix/registration-file.js";
import { type RunningOidcProvider, startOidcProvider } from "../harness/oidc-provider.js";
import { type SynapseServer, startSynapse } from "../harness/synapse.js";
import { freePorts } from "../harness/util.js";
import { freshDatabase } from "../support/fresh-database.js";
import { configFor, migrateDatabase } from "../support/handover-instance.js";
import { SsoBrowser } from "../support/sso-browser.js";

// A trust whose Synapse signs people in only through OpenID Connect against a real OpenID
// provider on loopback (npm oidc-provider), with password login off: Handover must offer single
// sign-on through the homeserver and nothing else.

const stack = inject("stack");
const IDP_ID = "trust";
const ADMIN = { login: "sso.admin", password: randomBytes(9).toString("hex"), name: "Sam Admin" };
const NOBODY = { login: "sso.nobody", password: randomBytes(9).toString("hex"), name: "No Role" };
const LOCKED = { login: "sso.locked", password: randomBytes(9).toString("hex"), name: "Lee Locked" };
const IG_LEAD = { login: "sso.iglead", password: randomBytes(9).toString("hex"), name: "Ida Governance" };
const LEAVER = { login: "sso.leaver", password: randomBytes(9).toString("hex"), name: "Leo Leaver" };
// A smartcard-less sign-in: the provider reports a lower assurance level than the trust requires.
const LOW_ASSURANCE = { login: "sso.lowassurance", password: randomBytes(9).toString("hex"), name: "Lou Assurance", acr: "aal1" };
const SCIM_TOKEN = randomBytes(32).toString("hex");
const PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const DEACTIVATED = { login: "sso.deactivated", password: randomBytes(9).toString("hex"), name: "Dee Activated" };

let idp: RunningOidcProvider;
let synapse: SynapseServer;
let handover: Handover;
let webUrl: string;

const adminUserId = () => `@${ADMIN.login}:${synapse.serverName}`;

/** Starts sign-in in `browser` and goes through the identity provider's login page, stopping before Handover's callback. */
async function signInAtIdp(browser: SsoBrowser, account: { login: string; password: string }): Promise<string> {
  const atCallback = (url: string) => url.startsWith(`${webUrl}/auth/sso/callback`);
  const loginPage = await browser.follow(`${webUrl}/auth/sso/start?idp=oidc-${IDP_ID}`, atCallback);
  expect(loginPage.url.startsWith(idp.issuer), `ended at ${loginPage.url}`).toBe(true);
  const html = await loginPage.response.text();
  expect(html).toContain("Trust identity provider");
  const back = await browser.submitLogin(loginPage.url, html, account.login, account.password, atCallback);
  if (!atCallback(back.url))
    throw new Error(`ended at ${back.url} (${back.response.status}): ${(await back.response.text()).replace(/<style[\s\S]*<\/style>/, "").slice(0, 1500)}`);
  return back.url;
}

/** A browser signed in to Handover through single sign-on. */
async function signedInBrowser(account: { login: string; password: string }): Promise<SsoBrowser> {
  const browser = new SsoBrowser();
  const landed = await browser.get(await signInAtIdp(browser, account));
  expect(landed.headers.get("location")).toBe("/");
  expect(browser.cookies.has("handover_session")).toBe(true);
  return browser;
}

async function synapseAdmin(method: string, path: string, body: unknown): Promise<void> {
  const response = await fetch(`${synapse.clientUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${synapse.admin.accessToken}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  expect(response.status, await response.clone().text()).toBe(200);
}

async function scim<T = { id: string }>(method: string, path: string, body: unknown): Promise<T> {
  const response = await fetch(`${webUrl}/scim/v2${path}`, {
    method,
    headers: { authorization: `Bearer ${SCIM_TOKEN}`, "content-type": "application/scim+json" },
    body: JSON.stringify(body),
  });
  expect(response.status, await response.clone().text()).toBeLessThan(300);
  return (await response.json()) as T;
}

function scimUser(account: { login: string; name: string }, active = true) {
  return { schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"], userName: `${account.login}@trust.nhs.uk`, active, displayName: account.name };
}

async function currentSession(browser: SsoBrowser): Promise<Response> {
  return browser.get(`${webUrl}/api/v1/session`);
}

beforeAll(async () => {
  const [clientPort = 0, webPort = 0] = await freePorts(2);
  webUrl = `http://127.0.0.1:${webPort}`;
  idp = await startOidcProvider({ redirectUri: `http://127.0.0.1:${clientPort}/_synapse/client/oidc/callback` });
  idp.addAccount(ADMIN);
  for (const account of [NOBODY, LOCKED, DEACTIVATED, IG_LEAD, LEAVER, LOW_ASSURANCE]) idp.addAccount(account);
  synapse = await startSynapse({
    root: stack.root,
    key: "a",
    clientPort,
    runDir: join(stack.runDir, `sso-${randomBytes(3).toString("hex")}`),
    extraConfig: {
      // As a trust would ask of NHS CIS2: only sign-ins at the assurance level the IG lead requires.
      oidc_providers: [idp.synapseConfig(IDP_ID, "Trust sign-in", { attribute_requirements: [{ attribute: "acr", value: "aal3" }] })],
      password_config: { enabled: false },
      // Handover's callback: without it Synapse stops at a "continue to your account" page.
      sso: { client_whitelist: [`${webUrl}/auth/sso/callback`] },
    },
  });
  const databaseUrl = await freshDatabase(stack.databaseUrls.a, "single_sign_on");
  const config = await configFor({ ...synapse, key: "a" }, databaseUrl, {
    webPort,
    roles: Object.fromEntries([ADMIN, LOCKED, DEACTIVATED, LEAVER].map((account) => [`@${account.login}:${synapse.serverName}`, "admin" as const])),
    // Entra ID provisioning over SCIM; runs happen only when a test asks (the push delay is long).
    directory: {
      scim: { name: "entra", bearerToken: SCIM_TOKEN, syncDelay: "1h" },
      maxRemovalShare: 1,
      leavers: { endSessions: true, action: "none", grace: "7d" },
    },
  });
  config.access.roleGroups = { "Information Governance": "ig-lead" };
  await migrateDatabase(databaseUrl);
  handover = new Handover(config, await readRegistrationTokens(config.appservice.registrationFile), {
    logger: createLogger(config.logging.level, "handover-sso"),
  });
  await handover.start();
});

afterAll(async () => {
  await handover?.stop();
  await synapse?.stop();
  await idp?.stop();
});

describe("single sign-on through the homeserver", () => {
  it("offers the homeserver's identity provider and no password form when password login is off", async () => {
    const flows = (await (await fetch(`${webUrl}/api/v1/session/flows`)).json()) as SignInFlows;
    expect(flows).toEqual({
      password: false,
      sso: {
        startUrl: "/auth/sso/start",
        identityProviders: [{ id: `oidc-${IDP_ID}`, name: "Trust sign-in", startUrl: `/auth/sso/start?idp=oidc-${IDP_ID}`, iconUrl: null }],
      },
    });
  });

  it("signs an admin in through the identity provider's login page; the device the login token made is logged out at once", async () => {
    const browser = new SsoBrowser();
    const callback = await signInAtIdp(browser, ADMIN);
    expect(new URL(callback).searchParams.get("loginToken")).toBeTruthy();
    const landed = await browser.get(callback);
    expect(landed.status).toBe(303);
    expect(landed.headers.get("location")).toBe("/");
    const session = await currentSession(browser);
    expect(session.status).toBe(200);
    expect(((await session.json()) as Session).role).toBe("admin");

    const devices = (await (
      await fetch(`${synapse.clientUrl}/_synapse/admin/v2/users/${encodeURIComponent(adminUserId())}/devices`, {
        headers: { authorization: `Bearer ${synapse.admin.accessToken}` },
      })
    ).json()) as { devices: unknown[] };
    expect(devices.devices).toEqual([]);
    const audit = await handover.audit.page({ limit: 5, action: "session.sign_in" });
    expect(audit.entries[0]).toMatchObject({ actor: adminUserId(), details: { role: "admin", method: "sso" } });
  });

  it("refuses a replayed callback: the state cookie is used up and the login token was single-use", async () => {
    const browser = new SsoBrowser();
    const callback = await signInAtIdp(browser, ADMIN);
    const stateCookie = browser.cookies.get("handover_sso_state") as string;
    expect((await browser.get(callback)).status).toBe(303);

    // The same browser again: its state cookie is gone.
    const again = await browser.get(callback);
    expect(again.headers.get("location")).toBe("/sign-in?problem=SIGN_IN_FAILED");
    // With the old cookie put back (copied before it was cleared): the homeserver refuses the spent token.
    const replay = new SsoBrowser();
    replay.cookies.set("handover_sso_state", stateCookie);
    const replayed = await replay.get(callback);
    expect(replayed.headers.get("location")).toBe("/sign-in?problem=SIGN_IN_FAILED");
    expect((await currentSession(replay)).status).toBe(401);
    const refusals = await handover.audit.page({ limit: 5, action: "session.sso_refused" });
    expect(refusals.entries.map((entry) => entry.details.reason)).toEqual(["login token refused by the homeserver", "state mismatch"]);
  });

  it("refuses a forged callback: a login token from someone else's sign-in, in a browser that started its own", async () => {
    // The attacker signs in as themselves and keeps the callback URL instead of following it.
    const attacker = new SsoBrowser();
    const forged = await signInAtIdp(attacker, ADMIN);
    // The victim's browser has started a sign-in of its own, so it holds a state cookie too.
    const victim = new SsoBrowser();
    await victim.follow(`${webUrl}/auth/sso/start`, (url) => url.startsWith(idp.issuer));
    expect(victim.cookies.has("handover_sso_state")).toBe(true);
    const landed = await victim.get(forged);
    expect(landed.headers.get("location")).toBe("/sign-in?problem=SIGN_IN_FAILED");
    expect((await currentSession(victim)).status).toBe(401);
    // Without any state cookie at all, the same.
    const bare = new SsoBrowser();
    expect((await bare.get(forged)).headers.get("location")).toBe("/sign-in?problem=SIGN_IN_FAILED");
    // The token was never spent on the victim's behalf: the attacker's own browser still finishes with it.
    expect((await attacker.get(forged)).headers.get("location")).toBe("/");
  });

  it("refuses someone the identity provider knows but Handover gives no role", async () => {
    const browser = new SsoBrowser();
    const callback = await signInAtIdp(browser, NOBODY);
    expect((await browser.get(callback)).headers.get("location")).toBe("/sign-in?problem=NO_ROLE");
    expect((await currentSession(browser)).status).toBe(401);
  });

  it("gets no login token for a sign-in below the assurance level Synapse requires (attribute_requirements on acr)", async () => {
    const browser = new SsoBrowser();
    const atCallback = (url: string) => url.startsWith(`${webUrl}/auth/sso/callback`);
    const loginPage = await browser.follow(`${webUrl}/auth/sso/start`, atCallback);
    const back = await browser.submitLogin(loginPage.url, await loginPage.response.text(), LOW_ASSURANCE.login, LOW_ASSURANCE.password, atCallback);
    expect(atCallback(back.url)).toBe(false);
    expect(back.url.startsWith(`${synapse.clientUrl}/_synapse/client/oidc/callback`)).toBe(true);
    expect(back.response.status).toBe(400);
    expect(await back.response.text()).toContain("You are not allowed to log in here.");
    expect((await currentSession(browser)).status).toBe(401);
  });

  it("sends the homeserver only Handover's own callback, whatever the request's Host says", async () => {
    const response = await fetch(`${webUrl}/auth/sso/start`, { redirect: "manual", headers: { host: "evil.example" } });
    const location = new URL(response.headers.get("location") as string);
    expect(location.origin).toBe(synapse.clientUrl);
    expect(new URL(location.searchParams.get("redirectUrl") as string).origin).toBe(webUrl);
  });
});

describe("sessions end with the account", () => {
  it("ends the portal session of an account locked in Synapse on its next request", async () => {
    const browser = await signedInBrowser(LOCKED);
    const userId = `@${LOCKED.login}:${synapse.serverName}`;
    await synapseAdmin("PUT", `/_synapse/admin/v2/users/${encodeURIComponent(userId)}`, { locked: true });
    expect((await currentSession(browser)).status).toBe(401);
    const ended = await handover.audit.page({ limit: 5, action: "session.ended" });
    expect(ended.entries[0]).toMatchObject({ target: userId, details: { reason: "locked", sessions: 1 } });
  });

  it("ends the portal session of an account deactivated in Synapse on its next request", async () => {
    const browser = await signedInBrowser(DEACTIVATED);
    const userId = `@${DEACTIVATED.login}:${synapse.serverName}`;
    await synapseAdmin("POST", `/_synapse/admin/v1/deactivate/${encodeURIComponent(userId)}`, { erase: false });
    expect((await currentSession(browser)).status).toBe(401);
    const ended = await handover.audit.page({ limit: 5, action: "session.ended" });
    expect(ended.entries[0]).toMatchObject({ target: userId, details: { reason: "deactivated" } });
  });
});

describe("roles from directory groups, and directory leavers", () => {
  it("gives a person in the directory group mapped to ig-lead that role, and says where it came from; out of the group, their next request is refused", async () => {
    const person = await scim("POST", "/Users", scimUser(IG_LEAD));
    const group = await scim("POST", "/Groups", {
      schemas: ["urn:ietf:params:scim:schemas:core:2.0:Group"],
      displayName: "Information Governance",
      members: [{ value: person.id }],
    });
    const browser = await signedInBrowser(IG_LEAD);
    const session = (await (await currentSession(browser)).json()) as Session;
    expect(session).toMatchObject({ role: "ig-lead", roleFrom: { kind: "group", group: "Information Governance", source: "entra" } });
    const signIns = await handover.audit.page({ limit: 1, action: "session.sign_in" });
    expect(signIns.entries[0]?.details).toMatchObject({ role: "ig-lead", group: "Information Governance", source: "entra" });
    // An admin sees who is signed in and where each role comes from.
    const admin = await signedInBrowser(ADMIN);
    const live = (await (await admin.get(`${webUrl}/api/v1/portal-sessions`)).json()) as PortalSessionList;
    expect(live.sessions).toContainEqual(
      expect.objectContaining({
        userId: `@${IG_LEAD.login}:${synapse.serverName}`,
        role: "ig-lead",
        roleFrom: { kind: "group", group: "Information Governance", source: "entra" },
      }),
    );
    expect(live.sessions).toContainEqual(expect.objectContaining({ userId: adminUserId(), role: "admin", roleFrom: { kind: "config" } }));
    expect((await browser.get(`${webUrl}/api/v1/portal-sessions`)).status).toBe(403);

    await scim("PATCH", `/Groups/${group.id}`, { schemas: [PATCH_OP], Operations: [{ op: "Remove", path: `members[value eq "${person.id}"]` }] });
    expect((await currentSession(browser)).status).toBe(401);
  });

  it("ends the portal session of someone directory sync has made a leaver, on their next request", async () => {
    const admin = await signedInBrowser(ADMIN);
    const person = await scim("POST", "/Users", scimUser(LEAVER));
    const browser = await signedInBrowser(LEAVER);
    expect((await currentSession(browser)).status).toBe(200);

    await scim("PATCH", `/Users/${person.id}`, { schemas: [PATCH_OP], Operations: [{ op: "Replace", path: "active", value: false }] });
    const run = await admin.send(`${webUrl}/api/v1/directory/runs`, { method: "POST", body: "{}", contentType: "application/json" });
    const result = (await run.json()) as { status: string };
    expect(run.status, JSON.stringify(result)).toBeLessThan(300);
    expect(result.status, JSON.stringify(result)).toBe("applied");

    expect((await currentSession(browser)).status).toBe(401);
    const ended = await handover.audit.page({ limit: 1, action: "session.ended" });
    expect(ended.entries[0]).toMatchObject({ target: `@${LEAVER.login}:${synapse.serverName}`, details: { reason: "directory leaver" } });
  });
});
