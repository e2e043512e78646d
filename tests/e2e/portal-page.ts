import AxeBuilder from "@axe-core/playwright";
import { expect, type Page } from "@playwright/test";

/** WCAG 2.2 AA, as axe checks it: every spec runs this on the pages it visits. */
export async function expectAccessible(page: Page): Promise<void> {
  const results = await new AxeBuilder({ page }).withTags(["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]).analyze();
  expect(results.violations.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).join(", ")})`)).toEqual([]);
}

/** Fills in and submits the portal's sign-in form; the caller checks where it lands. */
export async function submitSignIn(page: Page, portalUrl: string, userId: string, password: string): Promise<void> {
  await page.goto(`${portalUrl}/sign-in`);
  await page.getByLabel("Matrix user ID").fill(userId);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
}
