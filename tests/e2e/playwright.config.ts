import { defineConfig } from "@playwright/test";

// Debian's Chromium: Playwright's own browser download cannot run here (no network but the registries).
const chromium = process.env.HANDOVER_CHROMIUM ?? "/usr/bin/chromium";

export default defineConfig({
  testDir: ".",
  testMatch: "**/*.spec.ts",
  globalSetup: "./global-setup.ts",
  timeout: 90_000,
  expect: { timeout: 15_000 },
  workers: 1,
  retries: 0,
  reporter: process.env.CI ? "list" : [["list"]],
  outputDir: "../../test-results",
  use: {
    browserName: "chromium",
    headless: true,
    screenshot: process.env.HANDOVER_E2E_SCREENSHOTS ? "on" : "only-on-failure",
    trace: "retain-on-failure",
    launchOptions: {
      executablePath: chromium,
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    },
  },
});
