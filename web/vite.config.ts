import { defineConfig } from "vitest/config";

// Preact through the TypeScript JSX settings alone (tsconfig.json: jsxImportSource "preact"): no framework
// plugin is needed for a build. `npm run dev` proxies /api to make dev's gateway for hot reloading.
export default defineConfig({
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  build: { target: "es2022", sourcemap: false, chunkSizeWarningLimit: 200 },
  server: {
    port: 5173,
    proxy: { "/api": { target: process.env.API_TARGET ?? "http://127.0.0.1:8000", changeOrigin: false } },
  },
  test: {
    include: ["test/**/*.test.ts"],
    environment: "node",
  },
});
