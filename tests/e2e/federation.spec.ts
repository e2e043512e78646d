import { type Browser, expect, type Page, test } from "@playwright/test";
import { type E2eTrust, e2eInfo } from "./e2e-info.js";
import { expectAccessible } from "./portal-page.js";

const info = e2eInfo();
const [trustA, trustB] = [info.trusts.a, info.trusts.b];

/** Each trust's portal in its own browser context: separate cookies, as two admins in two trusts. */
async function adminOf(browser: Browser, trust: E2eTrust): Promise<Page> {
  const page = await (await browser.newContext()).newPage();
  await page.goto(`${trust.portalUrl}/sign-in`);
  await page.getByLabel("Matrix user ID").fill(trust.admin.userId);
  await page.getByLabel("Password").fill(info.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Overview" })).toBeVisible();
  return page;
}

test("trust A proposes an agreement in its portal and trust B accepts it in its own", async ({ browser }) => {
  const pageA = await adminOf(browser, trustA);
  await pageA.getByRole("link", { name: "Federation", exact: true }).click();
  await expect(pageA.getByRole("heading", { level: 1, name: "Federation" })).toBeVisible();
  await expect(pageA.getByText("RAA", { exact: true })).toBeVisible();
  await expectAccessible(pageA);

  await pageA.getByRole("link", { name: "Propose an agreement" }).click();
  await expect(pageA.getByRole("heading", { level: 1, name: "Propose an agreement" })).toBeVisible();
  // An empty form is refused with an error summary, and nothing is sent.
  await pageA.getByRole("button", { name: "Send proposal" }).click();
  await expect(pageA.getByRole("heading", { name: "There is a problem" })).toBeVisible();
  await expectAccessible(pageA);
  await pageA.getByLabel("Partner's Matrix server name").fill(trustB.serverName);
  await pageA.getByLabel("All managed rooms").check();
  await pageA.getByLabel("Purpose").fill("Regional stroke network: thrombolysis handovers between A and B");
  await pageA.getByLabel("Review date").fill("2027-11-22");
  await pageA.getByLabel("How filed content is retained on both sides").fill("Each trust retains filed content under its own records policy.");
  await pageA.getByRole("button", { name: "Send proposal" }).click();
  await expect(pageA.getByRole("heading", { level: 1, name: /Trust B NHS Foundation Trust/ })).toBeVisible();
  await expect(pageA.getByTestId("agreement-status")).toHaveText("Proposed");
  await expectAccessible(pageA);

  const pageB = await adminOf(browser, trustB);
  await pageB.getByRole("link", { name: "Federation", exact: true }).click();
  const inbox = pageB.getByRole("table", { name: "Proposals from other organisations" });
  await expect(inbox.getByRole("row", { name: /Trust A NHS Foundation Trust/ })).toBeVisible();
  await expectAccessible(pageB);
  await inbox.getByRole("link", { name: "Trust A NHS Foundation Trust" }).click();
  await expect(pageB.getByText("Regional stroke network: thrombolysis handovers between A and B", { exact: true })).toBeVisible();
  await pageB.getByRole("button", { name: "Accept agreement" }).click();
  await expect(pageB.getByTestId("agreement-status")).toHaveText("Active");
  await expect(pageB.getByRole("cell", { name: /agreement\.accept/ })).toBeVisible();
  await expectAccessible(pageB);

  await expect(async () => {
    await pageA.reload();
    await expect(pageA.getByTestId("agreement-status")).toHaveText("Active", { timeout: 2_000 });
  }).toPass({ timeout: 30_000 });
  await pageA.getByRole("link", { name: "Back to federation" }).click();
  await expect(pageA.getByText(trustB.serverName, { exact: true }).first()).toBeVisible();
});

test("an admin lists an expected partner in the portal and removes it again", async ({ browser }) => {
  const page = await adminOf(browser, trustA);
  await page.getByRole("link", { name: "Federation", exact: true }).click();
  const section = page.getByRole("region", { name: "Expected partners" });
  await expect(section.getByRole("cell", { name: trustB.serverName, exact: true })).toBeVisible();
  await section.getByLabel("Add an expected partner").fill("*.partner.example");
  await section.getByRole("button", { name: "Add expected partner" }).click();
  await expect(section.getByRole("status")).toContainText("*.partner.example added");
  await expect(section.getByRole("cell", { name: "*.partner.example", exact: true })).toBeVisible();
  await expectAccessible(page);
  await section.getByRole("button", { name: "Remove *.partner.example" }).click();
  await expect(section.getByRole("status")).toContainText("*.partner.example removed");
  await expect(section.getByRole("cell", { name: "*.partner.example", exact: true })).toHaveCount(0);
});
