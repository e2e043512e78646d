import { expect, type Page, test } from "@playwright/test";
import { e2eInfo } from "./e2e-info.js";
import { submitSignIn } from "./portal-page.js";

const all = e2eInfo();
const info = { ...all.trusts.a, password: all.password };

/** Every page of the portal a signed-in admin can open; each must work under the Content-Security-Policy. */
const PAGES = [
  "/",
  "/rooms",
  `/rooms/${encodeURIComponent(info.roomId)}`,
  "/audit",
  "/records",
  "/directory",
  "/directory/rules/new",
  "/retention",
  "/retention/policies/new",
  "/retention/deletions",
  "/federation",
  "/federation/propose",
];

/** Collects what Chromium reports as blocked by the policy: the page's own events and the console's lines. */
async function watchPolicyViolations(page: Page): Promise<() => Promise<string[]>> {
  const console: string[] = [];
  page.on("console", (message) => {
    if (/Content Security Policy/i.test(message.text())) console.push(message.text());
  });
  // Runs in the page: typed by hand, since the tests' tsconfig has no DOM library.
  interface PageScope {
    cspViolations: string[];
    document: { addEventListener(type: "securitypolicyviolation", listener: (event: { violatedDirective: string; blockedURI: string }) => void): void };
  }
  await page.addInitScript(() => {
    const scope = globalThis as unknown as PageScope;
    const seen: string[] = [];
    scope.cspViolations = seen;
    scope.document.addEventListener("securitypolicyviolation", (event) => seen.push(`${event.violatedDirective} blocked ${event.blockedURI || "inline"}`));
  });
  return async () => [...console, ...(await page.evaluate(() => (globalThis as unknown as PageScope).cspViolations))];
}

test("response headers are checked in the end-to-end tests", async ({ page, request }) => {
  const violations = await watchPolicyViolations(page);
  const document = await page.goto(`${info.portalUrl}/sign-in`);
  const headers = document?.headers() ?? {};
  const policy = headers["content-security-policy"] ?? "";
  expect(policy).toContain("script-src 'self'");
  expect(policy).toContain("frame-ancestors 'none'");
  expect(policy).toContain("object-src 'none'");
  expect(policy).not.toContain("unsafe-inline");
  expect(policy).not.toContain("unsafe-eval");
  expect(headers["x-content-type-options"]).toBe("nosniff");
  expect(headers["referrer-policy"]).toBe("no-referrer");
  // The e2e portal is served over http: HSTS would be ignored there, and is not sent.
  expect(headers["strict-transport-security"]).toBeUndefined();

  // The built page itself has no inline script for the policy to block.
  const html = await (await request.get(`${info.portalUrl}/sign-in`)).text();
  expect(html.match(/<script\b[^>]*>/g) ?? []).toEqual([expect.stringMatching(/ src="\/assets\/[^"]+\.js"/)]);
  expect(html).not.toMatch(/\son[a-z]+="/);

  // The API answers carry the same headers.
  const api = await request.get(`${info.portalUrl}/api/v1/session`);
  expect(api.status()).toBe(401);
  expect(api.headers()["content-security-policy"]).toBe(policy);
  expect(api.headers()["x-content-type-options"]).toBe("nosniff");

  await submitSignIn(page, info.portalUrl, info.admin.userId, info.password);
  await expect(page.getByRole("heading", { level: 1, name: "Overview" })).toBeVisible();
  for (const path of PAGES) {
    await page.goto(`${info.portalUrl}${path}`);
    await expect(page.getByRole("heading", { level: 1 })).toBeVisible();
    await page.waitForLoadState("networkidle");
    expect(await violations(), `policy violations on ${path}`).toEqual([]);
  }
});
