// End-to-end: playwright-core drives Debian's chromium (headless) through the built-in page:
// enter key, refine, submit, watch progress, play the result, find it in history, delete it.
// Saves screenshots under tests/web/screenshots/. Exits 77 when chromium or the package is missing.
import { existsSync, mkdirSync } from "node:fs";
import { startServer, createKey, check } from "./serve.mjs";

const chromiumPath = process.env.CHROMIUM || ["/usr/bin/chromium", "/usr/bin/chromium-browser"].find(existsSync);
let chromium;
try {
  ({ chromium } = await import("playwright-core"));
} catch (e) {
  console.log("SKIP: playwright-core missing (cd tests/web && npm ci)");
  process.exit(77);
}
if (!chromiumPath) {
  console.log("SKIP: no chromium (Debian: apt-get install chromium)");
  process.exit(77);
}

const shots = new URL("./screenshots/", import.meta.url).pathname;
mkdirSync(shots, { recursive: true });
const server = await startServer();
const browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args: ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--autoplay-policy=no-user-gesture-required"] });
try {
  const key = createKey(server.data, "browser", 500);
  const page = await browser.newPage({ viewport: { width: 390, height: 844 } });  // phone width
  const pageErrors = [];
  page.on("pageerror", (e) => pageErrors.push(e.message));
  await page.goto(server.url + "/");
  await page.fill("#api-key", key);
  await page.click("#save-key");
  await page.waitForFunction(() => /credits/.test(document.querySelector("#credits").textContent));
  const creditsBefore = parseInt(await page.textContent("#credits"), 10);

  await page.fill("#prompt", "a girl waves hello on a sunny balcony");
  await page.click("#refine");
  await page.waitForFunction(() => document.querySelector("#prompt").value.includes("Camera:"));
  await page.selectOption("#duration", "5");
  await page.selectOption("#aspect", "9:16");
  await page.selectOption("#language", "yue");
  await page.setInputFiles("#image", new URL("../server/data/ref32.png", import.meta.url).pathname);
  await page.waitForSelector("#image-preview:not([hidden])");
  await page.click("#generate");

  // Progress moves while the job runs.
  await page.waitForSelector("#status:not([hidden])");
  const fractions = new Set();
  const t0 = Date.now();
  while (Date.now() - t0 < 600000) {
    fractions.add(await page.getAttribute("#progress", "value"));
    if (!(await page.isHidden("#result"))) break;
    await page.waitForTimeout(100);
  }
  check(!(await page.isHidden("#result")), "result shown; progress values seen: " + [...fractions].join(","));
  check(fractions.size >= 2, "progress bar moved: " + [...fractions].join(","));
  await page.screenshot({ path: shots + "result.png", fullPage: true });

  // The result plays.
  const played = await page.evaluate(async () => {
    const v = document.querySelector("#player");
    if (v.readyState < 1) await new Promise((r) => { v.onloadedmetadata = r; v.onerror = r; });
    v.muted = true;
    try { await v.play(); } catch (e) { return "play failed: " + e.message + " (error " + (v.error && v.error.code) + ")"; }
    await new Promise((r) => setTimeout(r, 500));
    return v.currentTime > 0 ? "ok" : "did not advance: " + v.currentTime + " duration " + v.duration;
  });
  check(played === "ok", "video plays: " + played);

  // It is in the history with a download link; deleting removes it.
  await page.waitForSelector("#history .item");
  const id = await page.getAttribute("#history .item", "data-id");
  check(id && id.startsWith("req_"), "history item id " + id);
  const href = await page.getAttribute(`#history .item[data-id="${id}"] a.download`, "href");
  const dl = await fetch(new URL(href, server.url));
  check(dl.ok && (dl.headers.get("content-disposition") || "").includes("attachment"), "download link works");
  const creditsAfter = parseInt(await page.textContent("#credits"), 10);
  check(creditsAfter === creditsBefore - 5, `credits ${creditsBefore} -> ${creditsAfter}`);
  await page.screenshot({ path: shots + "history.png", fullPage: true });
  await page.click(`#history .item[data-id="${id}"] button.delete`);
  await page.waitForSelector(`#history .item[data-id="${id}"]`, { state: "detached" });
  const gone = await fetch(server.url + "/v1/videos/" + id, { headers: { Authorization: "Bearer " + key } });
  check(gone.status === 404, "deleted on the server: " + gone.status);
  await page.screenshot({ path: shots + "deleted.png", fullPage: true });
  check(pageErrors.length === 0, "page errors: " + pageErrors.join("; "));
  console.log("PASS browser (screenshots in " + shots + ")");
} catch (e) {
  console.error(e);
  console.error("--- server log ---\n" + server.log());
  process.exitCode = 1;
} finally {
  await browser.close();
  await server.stop();
}
