import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const START_TIMEOUT_MS = 120_000;

/**
 * Start `make dev` through tests/support/serve_devstack.py (the launcher tests/e2e uses) unless
 * WEB_BASE_URL names a running system; the returned teardown stops it. The gateway's URL reaches the tests
 * as WEB_BASE_URL.
 */
export default async function globalSetup(): Promise<() => Promise<void>> {
  if (process.env.WEB_BASE_URL) return async () => undefined;
  const python = process.env.PYTHON ?? join(REPO, ".venv/bin/python");
  const dataDir = mkdtempSync(join(tmpdir(), "web-e2e-"));
  const child = spawn(python, [join(REPO, "tests/support/serve_devstack.py"), join(dataDir, "data")], {
    cwd: REPO,
    stdio: ["pipe", "pipe", "inherit"],
  });
  const ready = new Promise<{ gateway: string; log: string }>((resolveReady, reject) => {
    const timer = setTimeout(() => reject(new Error("make dev did not start in time")), START_TIMEOUT_MS);
    createInterface({ input: child.stdout! }).once("line", (line) => {
      clearTimeout(timer);
      resolveReady(JSON.parse(line));
    });
    child.once("exit", (code) => reject(new Error(`serve_devstack.py exited with ${code}`)));
  });
  const state = await ready;
  process.env.WEB_BASE_URL = state.gateway;
  process.env.WEB_DEV_LOG = state.log;
  return async () => {
    const exited = new Promise((done) => child.once("exit", done));
    child.stdin!.end();
    await exited;
  };
}
