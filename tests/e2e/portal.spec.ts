import { expect, type Page, test } from "@playwright/test";
import { e2eInfo } from "./e2e-info.js";
import { expectAccessible, submitSignIn } from "./portal-page.js";

const all = e2eInfo();
const info = { ...all.trusts.a, password: all.password };

async function signIn(page: Page, userId: string): Promise<void> {
  await submitSignIn(page, info.portalUrl, userId, info.password);
}

async function roomKind(): Promise<string | undefined> {
  const response = await fetch(`${info.clientUrl}/_matrix/client/v3/rooms/${encodeURIComponent(info.roomId)}/state/org.handover.classification/`, {
    headers: { authorization: `Bearer ${info.admin.accessToken}` },
  });
  return response.ok ? ((await response.json()) as { kind?: string }).kind : undefined;
}

test("an admin signs in with their Matrix account, sees the room and changes its kind", async ({ page }) => {
  await signIn(page, info.admin.userId);
  await expect(page.getByRole("heading", { level: 1, name: "Overview" })).toBeVisible();
  // The bot's encryption device is up: the portal says so, with its device.
  const encryption = page.getByRole("definition").filter({ has: page.getByText(/Bot device HANDOVER/) });
  await expect(encryption.getByText("Working", { exact: true })).toBeVisible();
  await expectAccessible(page);

  await page.getByRole("link", { name: "Rooms", exact: true }).click();
  const table = page.getByRole("table", { name: "Rooms" });
  await expect(table.getByRole("row", { name: /Ward 9 handover \(A\)/ })).toBeVisible();
  await expectAccessible(page);

  await table
    .getByRole("row", { name: /Ward 9 handover \(A\)/ })
    .getByRole("link", { name: /Change kind/ })
    .click();
  await expectAccessible(page);
  await page.getByLabel("Operational").check();
  await page.getByRole("button", { name: "Save kind" }).click();
  await expect(page.getByText(/operational/i).first()).toBeVisible();
  await expect.poll(roomKind).toBe("operational");

  await page.getByRole("link", { name: "Audit", exact: true }).click();
  await expect(page.getByRole("cell", { name: "room.classify" }).first()).toBeVisible();
  await expectAccessible(page);
});

test("an auditor sees rooms but cannot change their kind", async ({ page }) => {
  await signIn(page, info.auditor.userId);
  await expect(page.getByRole("heading", { level: 1, name: "Overview" })).toBeVisible();
  await page.goto(`${info.portalUrl}/rooms/${encodeURIComponent(info.roomId)}`);
  // The room itself, not "Room not found" or a refusal: its name, its ID and its kind, read-only.
  await expect(page.getByRole("heading", { level: 1, name: /Ward 9 handover \(A\)/ })).toBeVisible();
  await expect(page.getByText(info.roomId, { exact: true })).toBeVisible();
  await expect(page.getByRole("term").filter({ hasText: "Kind" })).toBeVisible();
  await expect(page.getByRole("button", { name: "Save kind" })).toHaveCount(0);
  await expect(page.getByLabel("Operational")).toHaveCount(0);
});

test("a person without a role is refused, with an accessible error", async ({ page }) => {
  await signIn(page, info.nurse.userId);
  const summary = page.getByRole("alert");
  await expect(summary).toContainText("no role in Handover");
  await expect(page).toHaveURL(/sign-in/);
  await expectAccessible(page);
});

test("a wrong password is refused", async ({ page }) => {
  await page.goto(`${info.portalUrl}/sign-in`);
  await page.getByLabel("Matrix user ID").fill(info.admin.userId);
  await page.getByLabel("Password").fill("not the password");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("alert")).toContainText(/did not accept/);
});
