import { randomBytes } from "node:crypto";
import { join, resolve } from "node:path";
import { expect, type Page, test } from "@playwright/test";
import { Handover } from "../../appservice/src/app.js";
import { createLogger } from "../../appservice/src/logger.js";
import { readRegistrationTokens } from "../../appservice/src/matrix/registration-file.js";
import { type RunningOidcProvider, startOidcProvider } from "../harness/oidc-provider.js";
import { buildSynapseRoot } from "../harness/stack.js";
import { type SynapseServer, startSynapse } from "../harness/synapse.js";
import { freePorts } from "../harness/util.js";
import { freshDatabase } from "../support/fresh-database.js";
import { configFor, migrateDatabase } from "../support/handover-instance.js";
import { SsoBrowser } from "../support/sso-browser.js";
import { e2eInfo } from "./e2e-info.js";
import { expectAccessible } from "./portal-page.js";

// A third trust, started by this spec: its Synapse signs people in only through OpenID Connect
// against a real OpenID provider on loopback (npm oidc-provider), with password login off. The
// password trusts of the other specs are untouched.

const SCIM_TOKEN = randomBytes(32).toString("hex");
const PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const account = (login: string, name: string) => ({ login, name, password: randomBytes(9).toString("hex") });
const ADMIN = account("sso.wardadmin", "Wanda Admin");
const IG_LEAD = account("sso.iglead", "Ida Governance");
const LOCKED = account("sso.locked", "Lee Locked");

let idp: RunningOidcProvider;
let synapse: SynapseServer;
let handover: Handover;
let portalUrl: string;

test.describe.configure({ mode: "serial" });

test.beforeAll(async () => {
  test.setTimeout(180_000);
  const root = await buildSynapseRoot();
  const [clientPort = 0, webPort = 0] = await freePorts(2);
  portalUrl = `http://127.0.0.1:${webPort}`;
  idp = await startOidcProvider({ redirectUri: `http://127.0.0.1:${clientPort}/_synapse/client/oidc/callback` });
  for (const person of [ADMIN, IG_LEAD, LOCKED]) idp.addAccount(person);
  synapse = await startSynapse({
    root,
    key: "a",
    clientPort,
    runDir: join(root, "var/lib/handover-test", `e2e-sso-${randomBytes(4).toString("hex")}`),
    extraConfig: {
      oidc_providers: [idp.synapseConfig("trust", "Trust sign-in")],
      password_config: { enabled: false },
      sso: { client_whitelist: [`${portalUrl}/auth/sso/callback`] },
    },
  });
  const databaseUrl = await freshDatabase(e2eInfo().trusts.a.databaseUrl, "e2e_sso");
  const config = await configFor({ ...synapse, key: "a" }, databaseUrl, {
    webPort,
    portalDir: resolve("portal/dist"),
    roles: Object.fromEntries([ADMIN, LOCKED].map((person) => [`@${person.login}:${synapse.serverName}`, "admin" as const])),
    directory: { scim: { name: "entra", bearerToken: SCIM_TOKEN, syncDelay: "1h" } },
  });
  config.access.roleGroups = { "Information Governance": "ig-lead" };
  // Synapse's word that an account is open is trusted for 1 s here (30 s by default), so the
  // locked-account test waits for the next recheck, not half a minute.
  config.access.accountRecheck = 1_000;
  await migrateDatabase(databaseUrl);
  handover = new Handover(config, await readRegistrationTokens(config.appservice.registrationFile), {
    logger: createLogger(config.logging.level, "handover-e2e-sso"),
  });
  await handover.start();
});

test.afterAll(async () => {
  await handover?.stop();
  await synapse?.stop();
  await idp?.stop();
});

async function scim(method: string, path: string, body: unknown): Promise<{ id: string }> {
  const response = await fetch(`${portalUrl}/scim/v2${path}`, {
    method,
    headers: { authorization: `Bearer ${SCIM_TOKEN}`, "content-type": "application/scim+json" },
    body: JSON.stringify(body),
  });
  expect(response.status, await response.clone().text()).toBeLessThan(300);
  return (await response.json()) as { id: string };
}

/** Signs in through the portal's button and the identity provider's own login page. */
async function signInAtIdp(page: Page, person: { login: string; password: string }): Promise<void> {
  await page.goto(`${portalUrl}/sign-in`);
  await page.getByRole("link", { name: "Sign in with Trust sign-in" }).click();
  await expect(page.getByRole("heading", { name: "Trust identity provider" })).toBeVisible();
  await page.getByLabel("Username").fill(person.login);
  await page.getByLabel("Password").fill(person.password);
  await page.getByRole("button", { name: "Sign in to the trust" }).click();
}

test("the sign-in page offers the trust's identity provider and no password form, and passes axe", async ({ page }) => {
  await page.goto(`${portalUrl}/sign-in`);
  await expect(page.getByRole("link", { name: "Sign in with Trust sign-in" })).toBeVisible();
  await expect(page.getByLabel("Password")).toHaveCount(0);
  await expectAccessible(page);
});

test("an admin signs in through the identity provider's login page and reaches the Overview", async ({ page }) => {
  await signInAtIdp(page, ADMIN);
  await expect(page.getByRole("heading", { level: 1, name: "Overview" })).toBeVisible();
  await expect(page).toHaveURL(`${portalUrl}/`);
  await expect(page.locator("#signed-in-role")).toContainText("Handover's configuration (access.roles)");
  const signedIn = page.getByRole("table", { name: "Signed in to the portal" });
  await expect(signedIn.getByRole("row", { name: new RegExp(`@${ADMIN.login}:`) })).toContainText("Handover's configuration (access.roles)");
  await expectAccessible(page);
});

test("a person whose directory group maps to ig-lead gets that role; removed from the group, their next request is refused", async ({ page }) => {
  const person = await scim("POST", "/Users", {
    schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"],
    userName: `${IG_LEAD.login}@trust.nhs.uk`,
    active: true,
    displayName: IG_LEAD.name,
  });
  const group = await scim("POST", "/Groups", {
    schemas: ["urn:ietf:params:scim:schemas:core:2.0:Group"],
    displayName: "Information Governance",
    members: [{ value: person.id }],
  });
  await signInAtIdp(page, IG_LEAD);
  await expect(page.getByRole("heading", { level: 1, name: "Overview" })).toBeVisible();
  await expect(page.locator("#signed-in-role")).toContainText('role Information governance lead, from the directory group "Information Governance"');

  await scim("PATCH", `/Groups/${group.id}`, { schemas: [PATCH_OP], Operations: [{ op: "Remove", path: `members[value eq "${person.id}"]` }] });
  await page.getByRole("link", { name: "Rooms", exact: true }).click();
  await expect(page).toHaveURL(/\/sign-in/);
});

test("a locked account's session ends", async ({ page }) => {
  await signInAtIdp(page, LOCKED);
  await expect(page.getByRole("heading", { level: 1, name: "Overview" })).toBeVisible();
  const userId = `@${LOCKED.login}:${synapse.serverName}`;
  const locked = await fetch(`${synapse.clientUrl}/_synapse/admin/v2/users/${encodeURIComponent(userId)}`, {
    method: "PUT",
    headers: { authorization: `Bearer ${synapse.admin.accessToken}`, "content-type": "application/json" },
    body: JSON.stringify({ locked: true }),
  });
  expect(locked.status).toBe(200);
  // The Overview's requests asked the homeserver a moment ago; its answer is trusted until the
  // next recheck, after which a request is refused and the portal goes back to sign-in.
  await expect(async () => {
    await page.goto(`${portalUrl}/rooms`);
    await expect(page).toHaveURL(/\/sign-in/, { timeout: 2_000 });
  }).toPass({ timeout: 15_000 });
  const ended = await handover.audit.page({ limit: 1, action: "session.ended" });
  expect(ended.entries[0]).toMatchObject({ target: userId, details: { reason: "locked" } });
});

test("a forged or replayed loginToken callback is refused", async ({ page, browser }) => {
  // Replayed: the callback URL this browser was sent to, opened again after signing in.
  let callback = "";
  page.on("request", (request) => {
    if (request.url().startsWith(`${portalUrl}/auth/sso/callback`)) callback = request.url();
  });
  await signInAtIdp(page, ADMIN);
  await expect(page.getByRole("heading", { level: 1, name: "Overview" })).toBeVisible();
  expect(callback).toContain("loginToken=");
  // Signed out first, so the replay cannot ride on the session the first callback made.
  await page.goto(`${portalUrl}/sign-out`);
  await expect(page).toHaveURL(/\/sign-in/);
  await page.goto(callback);
  await expect(page).toHaveURL(/\/sign-in\?problem=SIGN_IN_FAILED/);
  await expect(page.getByRole("alert")).toContainText("Single sign-on did not finish");

  // Forged: a login token from someone else's sign-in (made outside this browser), delivered to a
  // browser that started a sign-in of its own.
  const attacker = new SsoBrowser();
  const atCallback = (url: string) => url.startsWith(`${portalUrl}/auth/sso/callback`);
  const loginPage = await attacker.follow(`${portalUrl}/auth/sso/start`, atCallback);
  const forged = await attacker.submitLogin(loginPage.url, await loginPage.response.text(), ADMIN.login, ADMIN.password, atCallback);
  expect(atCallback(forged.url)).toBe(true);
  const victim = await browser.newContext();
  const victimPage = await victim.newPage();
  await victimPage.goto(`${portalUrl}/sign-in`);
  await victimPage.goto(forged.url);
  await expect(victimPage).toHaveURL(/\/sign-in\?problem=SIGN_IN_FAILED/);
  await expect(victimPage.getByRole("alert")).toContainText("Single sign-on did not finish");
  await expectAccessible(victimPage);
  await victim.close();
});
