"""The official Python clients, unchanged, against a real `canter serve` over HTTPS:

* fal-client, pointed at canter only through its documented environment variables
  (FAL_QUEUE_RUN_HOST, FAL_RUN_HOST, FAL_KEY): it always speaks https://{host}/..., and a host
  value may carry a path prefix ("127.0.0.1:PORT/v1/queue"), so no patching is needed;
* openai (videos API) with base_url = canter's /v1.

Both trust the test's self-signed certificate through SSL_CERT_FILE, which their HTTP stacks
read when they build their SSL context (httpx: httpx/_config.py create_ssl_context; openai's
httpx2: httpcore2/_ssl.py default_ssl_context), so it is set before either creates a client.

Run: CANTER_BINARY=build/canter python tests/web/clients_test.py
(exits 77 when a package is missing, or 1 under CI=true; see serve_helper.skip)
"""

import atexit
import os
import shutil
import sys
import tempfile
import time
import warnings

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import serve_helper as h  # noqa: E402

h.require_modules("openai", "fal_client", "httpx", "httpx_sse")
h.require_binary()

tls_dir = tempfile.mkdtemp(prefix="canter-web-tls-")
atexit.register(shutil.rmtree, tls_dir, True)
cert, key_file = h.make_certificate(tls_dir)
server = h.Server(["--tls-cert", cert, "--tls-key", key_file])
key = h.create_key(server.data, "clients")
hostport = server.url[len("https://"):]

# Set before fal_client is imported: it reads the hosts at import time (fal_client/auth.py).
os.environ["SSL_CERT_FILE"] = cert
os.environ["FAL_KEY"] = key  # sent as "Authorization: Key <key>"
os.environ["FAL_QUEUE_RUN_HOST"] = hostport + "/v1/queue"
os.environ["FAL_RUN_HOST"] = hostport + "/v1"  # nothing here uses fal.run; keep it local too

import fal_client  # noqa: E402
import httpx  # noqa: E402
import httpx_sse  # noqa: E402
import openai  # noqa: E402

warnings.simplefilter("ignore", DeprecationWarning)  # openai marks its videos API deprecated
check = h.check
APP = "canter/text-to-video"  # fal ids are owner/alias; canter serves canter/<anything>


def statuses(events):
    names = [type(e).__name__ for e in events]
    return " -> ".join(n for i, n in enumerate(names) if i == 0 or names[i - 1] != n)


def fetch(url, **kw):
    with httpx.Client(timeout=60) as c:  # trust_env: SSL_CERT_FILE
        return c.get(url, **kw)


def body():
    check(server.url.startswith("https://127.0.0.1:"), "server listens on https: " + server.url)
    # The certificate is really checked: a client that ignores SSL_CERT_FILE (certifi's CAs) refuses canter.
    try:
        httpx.Client(trust_env=False).get(server.url + "/health")
        check(False, "an untrusted certificate must fail verification")
    except httpx.ConnectError as e:
        check("CERTIFICATE_VERIFY_FAILED" in str(e), "verification error: %s" % e)

    # --- fal-client: subscribe with logs and queue updates ------------------------------------
    updates, enqueued = [], []
    result = fal_client.subscribe(
        APP,
        arguments={"prompt": "a paper lantern floating up at night", "duration": 1, "steps": 1,
                   "resolution": "256p", "seed": 11},
        with_logs=True, interval=0.2, on_enqueue=enqueued.append, on_queue_update=updates.append)
    check(len(enqueued) == 1 and enqueued[0].startswith("req_"), "fal request id: %s" % enqueued)
    check(result["video"]["url"].startswith(server.url + "/v1/files/"), "fal video url: %s" % result)
    check(result["seed"] == 11, "seed round-trips: %s" % result)
    check(any(isinstance(u, fal_client.Completed) and u.error is None for u in updates),
          "status updates: %s" % updates)
    check(all(u.logs is not None for u in updates if isinstance(u, (fal_client.InProgress, fal_client.Completed))),
          "logs requested, logs sent: %s" % updates)
    mp4 = fetch(result["video"]["url"]).content
    check(mp4[4:8] == b"ftyp", "fal result is an MP4")
    print("fal subscribe ok:", enqueued[0], statuses(updates), flush=True)

    # --- submit / status / cancel ---------------------------------------------------------------
    handle = fal_client.submit(APP, arguments={"prompt": "a slow train", "duration": 15, "resolution": "256p"})
    st = fal_client.status(APP, handle.request_id, with_logs=True)
    check(isinstance(st, (fal_client.Queued, fal_client.InProgress)), "fal status: %s" % st)
    fal_client.cancel(APP, handle.request_id)
    after = None
    for _ in range(1500):
        after = handle.status()
        if isinstance(after, fal_client.Completed):
            break
        time.sleep(0.2)
    check(isinstance(after, fal_client.Completed) and after.error_type == "client_cancelled" and after.error,
          "fal cancel: %s" % after)
    # Its result is fal's client_cancelled error at once (409 would be retried for ~50 s).
    t0 = time.monotonic()
    try:
        fal_client.result(APP, handle.request_id)
        check(False, "the result of a cancelled request must fail")
    except fal_client.FalClientHTTPError as e:
        check(e.status_code == 499 and e.error_type == "client_cancelled", "cancelled result: %s %s" % (e.status_code, e))
    check(time.monotonic() - t0 < 10, "cancelled result not retried (%.1f s)" % (time.monotonic() - t0))
    print("fal submit/status/cancel ok:", handle.request_id, flush=True)

    # --- iter_events (the client's status iterator), then get ----------------------------------
    handle = fal_client.submit(APP, arguments={"prompt": "waves", "duration": 1, "steps": 1, "resolution": "256p"})
    events = list(handle.iter_events(with_logs=True, interval=0.1))
    check(isinstance(events[-1], fal_client.Completed) and events[-1].error is None, "iter_events: %s" % events)
    check("inference_time" in events[-1].metrics, "metrics: %s" % events[-1])
    check(handle.get()["video"]["url"].startswith(server.url + "/v1/files/"), "iter_events job result")
    print("fal iter_events ok:", statuses(events), flush=True)

    # canter's SSE status stream, read with httpx-sse (fal-client's own SSE library; the Python
    # client has no status-stream call).
    handle = fal_client.submit(APP, arguments={"prompt": "rain", "duration": 1, "steps": 1, "resolution": "256p"})
    seen = []
    with httpx.Client(headers={"Authorization": "Key " + key}, timeout=600) as c:
        with httpx_sse.connect_sse(c, "GET", handle.status_url + "/stream", params={"logs": 1}) as events:
            for event in events.iter_sse():
                seen.append(event.json())
    check(seen and seen[-1]["status"] == "COMPLETED" and "error_type" not in seen[-1], "SSE final: %s" % seen[-1:])
    check(any(s["status"] == "IN_PROGRESS" and "progress" in s for s in seen), "SSE progress: %d events" % len(seen))
    print("SSE status stream ok:", len(seen), "events", flush=True)

    # Errors surface as the client's FalClientHTTPError with the status and the field.
    try:
        fal_client.submit(APP, arguments={"prompt": "x", "duration": 99})
        check(False, "invalid input must fail")
    except fal_client.FalClientHTTPError as e:
        check(e.status_code == 422, "fal validation error status: %s %s" % (e.status_code, e))
        check("duration" in str(e), "message names the field: %s" % e)

    # --- openai ----------------------------------------------------------------------------------
    client = openai.OpenAI(api_key=key, base_url=server.url + "/v1")
    video = client.videos.create(model="canter", prompt="a cup of tea steaming on a windowsill", seconds="1",
                                 size="448x256", extra_body={"steps": 1})  # canter extension: keep it short on CPU
    check(video.object == "video" and video.id.startswith("req_"), "openai create: %s" % video)
    while video.status in ("queued", "in_progress"):
        time.sleep(0.5)
        video = client.videos.retrieve(video.id)
    check(video.status == "completed", "openai final status: %s" % video)
    content = client.videos.download_content(video.id)
    check(content.content[4:8] == b"ftyp", "openai content is an MP4")
    page = client.videos.list(limit=10)
    check(any(v.id == video.id for v in page.data), "openai list contains the video")
    deleted = client.videos.delete(video.id)
    check(deleted.deleted is True, "openai delete: %s" % deleted)
    try:
        client.videos.retrieve(video.id)
        check(False, "deleted video must be gone")
    except openai.NotFoundError as e:
        check(e.status_code == 404, "deleted video 404: %s" % e.status_code)
    try:
        openai.OpenAI(api_key="ck_wrong", base_url=server.url + "/v1").videos.list()
        check(False, "wrong key must fail")
    except openai.AuthenticationError as e:
        check(e.status_code == 401, "wrong key 401: %s" % e.status_code)
    print("openai videos create/retrieve/download_content/list/delete ok:", video.id, flush=True)


h.run("clients", body, server)
