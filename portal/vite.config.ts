import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import vue from "@vitejs/plugin-vue";
import { defineConfig, type ProxyOptions } from "vite";

const api = process.env.HANDOVER_API ?? "http://127.0.0.1:8090";

// The API refuses writes whose Origin is not its web.publicUrl, and in development the page's
// origin is this dev server's. Through the proxy the request is same-origin in effect (the
// session cookie is SameSite=Strict), so the header is dropped rather than spoofed.
const toApi: ProxyOptions = {
  target: api,
  configure: (proxy) => proxy.on("proxyReq", (proxyReq) => proxyReq.removeHeader("origin")),
};

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
      "/api": toApi,
      "/healthz": api,
      "/readyz": api,
    },
  },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    // nhsuk-frontend's CSS comes minified, with old-IE hacks and newer at-rules lightningcss
    // cannot parse; re-minifying it only risks changing the design system's rules.
    cssMinify: false,
  },
});
