import { defineConfig } from "@playwright/test";

/**
 * The browser suite: Debian's Chromium (`CHROMIUM`, default /usr/bin/chromium; Playwright's own browser
 * download is not used), against a `make dev` system that e2e/global-setup.ts starts on free ports.
 */
export default defineConfig({
  testDir: "e2e",
  globalSetup: "./e2e/global-setup.ts",
  // Generous: the suite shares a small machine with the services it drives; a pass takes a fraction of this.
  timeout: 180_000,
  expect: { timeout: 30_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  reporter: [["list"]],
  use: {
    browserName: "chromium",
    headless: true,
    locale: "en-US",
    viewport: { width: 1100, height: 720 },
    trace: "retain-on-failure",
    launchOptions: {
      executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
      // As root on a closed network: no sandbox, no calls home, no GPU.
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
