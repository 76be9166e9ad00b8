"""End to end: Python playwright drives Debian's chromium (headless) through the built-in page of
a real `canter serve`: enter a key, refine, set duration/aspect/language, attach an image,
generate, watch progress, play the result, find it in the history, download it, delete it.

Screenshots go to $CANTER_SCREENSHOT_DIR (ctest: build/tests/web-screenshots), else a temp folder;
the path is printed. playwright's own browser download (`playwright install`) is never used: the
browser is $CHROMIUM or /usr/bin/chromium.

Run: CANTER_BINARY=build/canter python tests/web/browser_test.py
(exits 77 when playwright or chromium is missing, or 1 under CI=true; see serve_helper.skip)
"""

import os
import re
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import serve_helper as h  # noqa: E402

h.require_modules("playwright")
chromium_path = os.environ.get("CHROMIUM") or next(
    (p for p in ("/usr/bin/chromium", "/usr/bin/chromium-browser") if os.access(p, os.X_OK)), None)
if not chromium_path:
    h.skip("no chromium (Debian: apt-get install chromium; or set CHROMIUM)")
h.require_binary()

from playwright.sync_api import sync_playwright  # noqa: E402

check = h.check
REF_IMAGE = os.path.join(h.REPO, "tests", "server", "data", "ref32.png")
shots = os.environ.get("CANTER_SCREENSHOT_DIR") or tempfile.mkdtemp(prefix="canter-web-shots-")
os.makedirs(shots, exist_ok=True)


def credits_of(text):
    m = re.match(r"\s*(-?\d+)", text or "")
    check(m is not None, "credits text: %r" % text)
    return int(m.group(1))


def http_get(url, headers=None):
    """(status, headers) of a GET, without raising on 4xx."""
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=60) as r:
            r.read()
            return r.status, r.headers
    except urllib.error.HTTPError as e:
        return e.code, e.headers


server = h.Server()


def body():
    key = h.create_key(server.data, "browser", 500)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path, headless=True,
                                     args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                                           "--autoplay-policy=no-user-gesture-required"])
        try:
            run_page(browser, key)
        finally:
            browser.close()


def run_page(browser, key):
    page = browser.new_page(viewport={"width": 390, "height": 844})  # phone width
    page_errors = []
    page.on("pageerror", lambda e: page_errors.append(str(e)))
    page.goto(server.url + "/")
    page.fill("#api-key", key)
    page.click("#save-key")
    page.wait_for_function("() => /credits/.test(document.querySelector('#credits').textContent)")
    credits_before = credits_of(page.text_content("#credits"))

    page.fill("#prompt", "a girl waves hello on a sunny balcony")
    page.click("#refine")
    page.wait_for_function("() => document.querySelector('#prompt').value.includes('Camera:')")
    page.select_option("#duration", "5")
    page.select_option("#aspect", "9:16")
    page.select_option("#language", "yue")
    page.set_input_files("#image", REF_IMAGE)
    page.wait_for_selector("#image-preview:not([hidden])")
    page.click("#generate")

    # Progress moves while the job runs.
    page.wait_for_selector("#status:not([hidden])")
    fractions = set()
    t0 = time.monotonic()
    while time.monotonic() - t0 < 600:
        fractions.add(page.get_attribute("#progress", "value"))
        if not page.is_hidden("#result"):
            break
        page.wait_for_timeout(100)
    seen = ",".join(sorted(v or "" for v in fractions))
    check(not page.is_hidden("#result"), "result shown; progress values seen: " + seen)
    check(len(fractions) >= 2, "progress bar moved: " + seen)
    page.screenshot(path=os.path.join(shots, "result.png"), full_page=True)

    # The result plays.
    played = page.evaluate("""async () => {
        const v = document.querySelector("#player");
        if (v.readyState < 1) await new Promise((r) => { v.onloadedmetadata = r; v.onerror = r; });
        v.muted = true;
        try { await v.play(); } catch (e) { return "play failed: " + e.message + " (error " + (v.error && v.error.code) + ")"; }
        await new Promise((r) => setTimeout(r, 500));
        return v.currentTime > 0 ? "ok" : "did not advance: " + v.currentTime + " duration " + v.duration;
    }""")
    check(played == "ok", "video plays: " + played)

    # It is in the history with a download link; deleting removes it.
    page.wait_for_selector("#history .item")
    job_id = page.get_attribute("#history .item", "data-id")
    check(job_id is not None and job_id.startswith("req_"), "history item id %s" % job_id)
    href = page.get_attribute('#history .item[data-id="%s"] a.download' % job_id, "href")
    status, headers = http_get(urllib.parse.urljoin(server.url + "/", href))
    check(status == 200 and "attachment" in (headers.get("Content-Disposition") or ""),
          "download link works: %s %s" % (status, headers.get("Content-Disposition")))
    credits_after = credits_of(page.text_content("#credits"))
    check(credits_after == credits_before - 5, "credits %d -> %d" % (credits_before, credits_after))
    page.screenshot(path=os.path.join(shots, "history.png"), full_page=True)
    page.click('#history .item[data-id="%s"] button.delete' % job_id)
    page.wait_for_selector('#history .item[data-id="%s"]' % job_id, state="detached")
    status, _ = http_get(server.url + "/v1/videos/" + job_id, {"Authorization": "Bearer " + key})
    check(status == 404, "deleted on the server: %s" % status)
    page.screenshot(path=os.path.join(shots, "deleted.png"), full_page=True)
    check(not page_errors, "page errors: " + "; ".join(page_errors))
    print("screenshots in " + shots, flush=True)


h.run("browser", body, server)
