import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

// For running the harness's own test until the repository has a vitest.config.ts:
// scripts/with-node22.sh npx vitest run -c tests/harness/vitest.harness.config.ts
export default defineConfig({
  root: fileURLToPath(new URL("../..", import.meta.url)),
  test: {
    include: ["tests/harness/**/*.test.ts"],
    globalSetup: ["tests/harness/global-setup.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
