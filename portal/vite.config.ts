import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import vue from "@vitejs/plugin-vue";
import { defineConfig } from "vite";

const api = process.env.HANDOVER_API ?? "http://127.0.0.1:8090";

// nhsuk-frontend's compiled CSS points at its icons as /assets/images/…; resolving that
// prefix into the package lets Vite bundle the icons instead of copying them into the repo.
const nhsukPackage = createRequire(import.meta.url).resolve("nhsuk-frontend/package.json");
const nhsukImages = `${join(dirname(nhsukPackage), "dist/nhsuk/assets/images")}/`;

export default defineConfig({
  plugins: [vue()],
  resolve: {
    alias: [{ find: /^\/assets\/images\//, replacement: nhsukImages }],
  },
  server: {
    proxy: {
      "/api": api,
      "/healthz": api,
      "/readyz": api,
    },
  },
  build: { outDir: "dist", emptyOutDir: true },
});
