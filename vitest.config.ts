import { defineConfig } from "vitest/config";

// Three tiers, each runnable on its own (see README): unit (fakes only, fast), integration
// (real Synapse x2, PostgreSQL, slapd), and end-to-end in Chromium (Playwright, not vitest).
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          include: ["appservice/src/**/*.test.ts", "tests/deploy/**/*.test.ts", "tests/unit/**/*.test.ts"],
          environment: "node",
        },
      },
      "portal/vitest.config.ts",
      {
        test: {
          name: "integration",
          include: ["tests/integration/**/*.test.ts", "tests/harness/**/*.test.ts"],
          globalSetup: ["tests/harness/global-setup.ts"],
          testTimeout: 120_000,
          hookTimeout: 180_000,
          fileParallelism: false,
          maxWorkers: 1,
        },
      },
    ],
  },
});
