import { expect, type Page, test } from "@playwright/test";
import { e2eInfo } from "./e2e-info.js";
import { expectAccessible, submitSignIn } from "./portal-page.js";

const all = e2eInfo();
const info = { ...all.trusts.a, password: all.password };

async function signIn(page: Page, userId: string): Promise<void> {
  await submitSignIn(page, info.portalUrl, userId, info.password);
  await expect(page.getByRole("heading", { level: 1, name: "Overview" })).toBeVisible();
}

test("an admin creates a retention policy for a room, previews it, and places a legal hold", async ({ page }) => {
  await signIn(page, info.admin.userId);
  await page.getByRole("link", { name: "Retention", exact: true }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Retention" })).toBeVisible();
  await expect(page.getByRole("table", { name: "Retention policies" }).getByRole("row", { name: /Default clinical policy/ })).toBeVisible();
  await expectAccessible(page);

  await page.getByRole("link", { name: "Create a policy" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Create a retention policy" })).toBeVisible();
  await expectAccessible(page);

  // A mistake first: the error summary names the field and nothing is saved.
  await page.getByLabel("Policy name").fill("Ward 9 short retention");
  await page.getByLabel("One room").check();
  await page.getByLabel("Room ID").fill(info.roomId);
  await page.getByLabel("Maximum age", { exact: true }).fill("thirty days");
  await page.getByRole("button", { name: "Save policy" }).click();
  await expect(page.getByRole("alert")).toContainText("expected a duration");
  await expectAccessible(page);

  await page.getByLabel("Maximum age", { exact: true }).fill("14d");
  await page.getByLabel("Delete after filing").fill("12h");
  await page.getByRole("button", { name: "Preview affected rooms" }).click();
  const preview = page.getByRole("table", { name: "Rooms this policy would govern" });
  await expect(preview.getByRole("row", { name: /Ward 9 handover \(A\)/ })).toBeVisible();
  await expectAccessible(page);

  await page.getByRole("button", { name: "Save policy" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Retention" })).toBeVisible();
  await expect(page.getByText('Policy "Ward 9 short retention" saved')).toBeVisible();
  await expect(page.getByRole("table", { name: "Retention policies" }).getByRole("row", { name: /Ward 9 short retention/ })).toContainText("14d");

  await page
    .getByRole("table", { name: "What the next sweep would do in each room" })
    .getByRole("link", { name: /Ward 9 handover \(A\)/ })
    .click();
  await expect(page.getByRole("heading", { level: 1, name: /Ward 9 handover \(A\)/ })).toBeVisible();
  await expect(page.getByText("Ward 9 short retention")).toBeVisible();
  await expectAccessible(page);

  await page.getByRole("button", { name: "Place legal hold" }).click();
  await expect(page.getByRole("alert")).toContainText("Enter the reason for the hold");
  await page.getByLabel("Reason for the hold").fill("Complaint C-2291: preserve all messages");
  await page.getByRole("button", { name: "Place legal hold" }).click();
  await expect(page.getByText("Legal hold placed")).toBeVisible();
  await expect(page.getByText(/Legal hold: Complaint C-2291/)).toBeVisible();
  await expectAccessible(page);

  await page.getByRole("link", { name: "Audit", exact: true }).click();
  await expect(page.getByRole("cell", { name: "retention.hold.placed" }).first()).toBeVisible();
  await expect(page.getByRole("cell", { name: "retention.policy.created" }).first()).toBeVisible();
});

test("an auditor sees retention status and deletion records but cannot change policies", async ({ page }) => {
  await signIn(page, info.auditor.userId);
  await page.goto(`${info.portalUrl}/retention`);
  await expect(page.getByRole("heading", { level: 1, name: "Retention" })).toBeVisible();
  await expect(page.getByRole("link", { name: "Create a policy" })).toHaveCount(0);
  await page.getByRole("link", { name: "Deletion records" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Deletion records" })).toBeVisible();
  await expect(page.getByRole("link", { name: /Download all deletion records/ })).toBeVisible();
  await expectAccessible(page);
});
