// Page load time of the dispatch dashboard in headless Chromium (issue #8):
// for N fresh loads, the time to the load event (HTML, scripts and the 1 MB
// ECharts bundle, all from coalmond) and the time until the first live values
// are on screen, against loading GET /api/v1/session as a document in the same
// browser (the cost of one round trip and a trivial render: the baseline).
// Runs `coalmond --demo` from $COALMON_BIN (bench/run.sh: the release build).
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const { startBrowser, startDemo } = await import(path.join(here, "../tests/browser/lib.mjs"));
const N = Number(process.env.BENCH_LOADS || 10);

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
const demo = await startDemo();
const browser = await startBrowser();
try {
  const page = await browser.ctx.newPage();
  await page.goto(demo.base + "/"); // warm the server's first answers, not the browser cache
  await page.locator(".gates .tile-value").first().waitFor({ timeout: 30000 });
  const base = [], load = [], live = [];
  for (let i = 0; i < N; i++) {
    const cdp = await browser.ctx.newCDPSession(page);
    await cdp.send("Network.clearBrowserCache"); // every load fetches everything again
    await cdp.detach();
    let t0 = Date.now();
    await page.goto(demo.base + "/api/v1/session", { waitUntil: "load" });
    base.push(Date.now() - t0);
    t0 = Date.now();
    await page.goto(demo.base + "/", { waitUntil: "load" });
    load.push(Date.now() - t0);
    await page.locator(".gates .tile-value").first().waitFor({ timeout: 30000 });
    live.push(Date.now() - t0);
  }
  const bytes = await page.evaluate(() => performance.getEntriesByType("resource").reduce((n, e) => n + e.transferSize, 0)
                                           + performance.getEntriesByType("navigation")[0].transferSize);
  const b = median(base);
  console.log(`GET /api/v1/session as a page (baseline)  median ${b} ms`);
  console.log(`dashboard: load event                      median ${median(load)} ms  (${(median(load) / b).toFixed(1)}x baseline)`);
  console.log(`dashboard: first live values on screen     median ${median(live)} ms  (${(median(live) / b).toFixed(1)}x baseline)`);
  console.log(`(${N} loads, cache cleared each time, ${(bytes / 1024).toFixed(0)} KiB transferred per load, headless Chromium)`);
} finally {
  await browser.close();
  await demo.stop();
}
