import { readFileSync } from "node:fs";
import { expect, type Page, test } from "@playwright/test";
import { e2eInfo } from "./e2e-info.js";
import { expectAccessible, submitSignIn } from "./portal-page.js";

// Issue 14: spot checks of staff devices, by the IG lead; an auditor reads them but cannot act.
const all = e2eInfo();
const info = { ...all.trusts.a, password: all.password };

async function signIn(page: Page, userId: string): Promise<void> {
  await submitSignIn(page, info.portalUrl, userId, info.password);
  await expect(page.getByRole("heading", { level: 1, name: "Overview" })).toBeVisible();
}

test("an IG lead runs a spot check, records an outcome, and downloads the CSV and the PDF; an auditor can read but not act", async ({ page, browser }) => {
  await signIn(page, info.igLead.userId);
  await page.getByRole("link", { name: "Devices", exact: true }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Devices and sessions" })).toBeVisible();
  await expect(page.getByRole("heading", { name: "Trust-wide posture" })).toBeVisible();
  await expectAccessible(page);

  await page.getByRole("link", { name: "Spot checks of staff devices" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Spot checks" })).toBeVisible();
  await expectAccessible(page);
  await page.getByLabel("People to sample").fill("2");
  await page.getByRole("button", { name: "Start a spot check" }).click();
  await expect(page.getByRole("heading", { level: 1, name: /^Spot check \d+$/ })).toBeVisible();
  const spotCheckUrl = page.url();
  await expectAccessible(page);

  const first = page.locator("[data-testid^='spot-']").first();
  const userId = ((await first.getAttribute("data-testid")) ?? "").replace(/^spot-/, "");
  await first.getByText("Record the checklist").click();
  await first.getByLabel("Screen lock (PIN, password or biometrics) is on").selectOption("yes");
  await first.getByLabel("The app does not save images to the photo library").selectOption("yes");
  await first.getByLabel("Message previews are hidden on the lock screen").selectOption("no");
  await first.getByLabel("Outcome").selectOption("action-needed");
  await first.getByLabel("Note (optional)").fill("lock-screen previews were on; turned off together");
  await expectAccessible(page);
  await first.getByRole("button", { name: /^Record outcome/ }).click();
  await expect(page.getByRole("alert").filter({ hasText: "Outcome recorded" })).toBeVisible();
  await expect(first.getByText("Outcome: Action needed")).toBeVisible();

  const csvDownload = page.waitForEvent("download");
  await page.getByRole("link", { name: "Download CSV" }).click();
  const csv = readFileSync((await (await csvDownload).path()) as string, "utf8");
  const row = csv.split("\r\n").find((line) => line.includes(userId));
  expect(row).toContain("yes,yes,no,action-needed,lock-screen previews were on; turned off together");

  const pdfDownload = page.waitForEvent("download");
  await page.getByRole("button", { name: "Download PDF report" }).click();
  const pdf = readFileSync((await (await pdfDownload).path()) as string);
  expect(pdf.subarray(0, 5).toString()).toBe("%PDF-");
  expect((await pdfDownload).suggestedFilename()).toMatch(/^spot-check-\d+\.pdf$/);

  // The auditor, in a browser of their own: reads the same spot check, cannot record or start one, and cannot sign anyone out.
  const auditorContext = await browser.newContext();
  const auditor = await auditorContext.newPage();
  await signIn(auditor, info.auditor.userId);
  await auditor.goto(spotCheckUrl);
  await expect(auditor.getByRole("heading", { level: 1, name: /^Spot check \d+$/ })).toBeVisible();
  await expect(auditor.getByText("Outcome: Action needed")).toBeVisible();
  await expect(auditor.getByText("Record the checklist")).toHaveCount(0);
  await expect(auditor.getByRole("link", { name: "Download CSV" })).toBeVisible();
  await expectAccessible(auditor);
  await auditor.goto(`${info.portalUrl}/devices/spot-checks`);
  await expect(auditor.getByRole("heading", { level: 1, name: "Spot checks" })).toBeVisible();
  await expect(auditor.getByRole("button", { name: "Start a spot check" })).toHaveCount(0);
  await auditor.goto(`${info.portalUrl}/devices`);
  await expect(auditor.getByRole("heading", { name: "People" })).toBeVisible();
  await expect(auditor.getByRole("button", { name: /^Sign out/ })).toHaveCount(0);
  await expect(auditor.getByRole("button", { name: /Lost or stolen phone/ })).toHaveCount(0);
  await expectAccessible(auditor);
  await auditorContext.close();
});
