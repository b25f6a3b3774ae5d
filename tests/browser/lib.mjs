// Shared by the browser test and the page-load bench: start `coalmond --demo`
// on a free port and Debian's Chromium through playwright-core (installed by
// scripts/dashboard.sh into web/dashboard/node_modules).
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
export const SOURCE = process.env.COALMON_SOURCE || path.resolve(here, "../..");
export const BIN = process.env.COALMON_BIN || path.join(SOURCE, "build/bin");
const require = createRequire(path.join(SOURCE, "web/dashboard/package.json"));
const { chromium } = require("playwright-core");

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, "127.0.0.1", () => { const p = s.address().port; s.close(() => resolve(p)); });
    s.on("error", reject);
  });
}

// Resolves once "serving" is printed; .passwords has the demo users'.
export async function startDemo() {
  const port = await freePort();
  const data = mkdtempSync(path.join(os.tmpdir(), "coalmon-browser-"));
  const proc = spawn(path.join(BIN, "coalmond"), ["--demo", "--port", String(port), "--data", data],
                     { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  proc.stdout.on("data", (d) => { out += d; });
  proc.stderr.on("data", (d) => { out += d; });
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`coalmond did not start:\n${out}`)), 60000);
    const check = () => {
      if (out.includes(`serving http://127.0.0.1:${port}/`) && out.includes("demo user viewer")) { clearTimeout(timer); resolve(); }
    };
    proc.stdout.on("data", check);
    proc.on("exit", (c) => { clearTimeout(timer); reject(new Error(`coalmond exited ${c}:\n${out}`)); });
  });
  const passwords = {};
  for (const m of out.matchAll(/demo user (\w+)\s+password (\S+)/g)) passwords[m[1]] = m[2];
  return {
    port, data, passwords, base: `http://127.0.0.1:${port}`, output: () => out,
    async stop() {
      if (proc.exitCode === null) {
        const done = new Promise((r) => proc.on("exit", r));
        proc.kill("SIGINT");
        const t = setTimeout(() => proc.kill("SIGKILL"), 15000);
        await done;
        clearTimeout(t);
      }
      rmSync(data, { recursive: true, force: true });
      return proc.exitCode;
    },
  };
}

// Headless Chromium with a fresh profile; every request off this machine is
// refused and recorded (the mine's network has no internet).
export async function startBrowser(outDir) {
  const profile = mkdtempSync(path.join(os.tmpdir(), "coalmon-chromium-"));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    viewport: { width: 1600, height: 1000 },
    acceptDownloads: true,
    locale: "zh-CN",
    timezoneId: "Asia/Shanghai",
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
           "--disable-sync", "--no-first-run"],
  });
  const outside = [];
  await ctx.route("**/*", (route) => {
    const u = new URL(route.request().url());
    if (u.hostname === "127.0.0.1" || u.protocol === "blob:" || u.protocol === "data:") return route.continue();
    outside.push(u.href);
    return route.abort();
  });
  return {
    ctx, outside,
    async close() { await ctx.close(); rmSync(profile, { recursive: true, force: true }); },
  };
}
