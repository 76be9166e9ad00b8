"""Shared helpers for the tests in tests/web: start a real `canter serve` (built-in demo model) on
127.0.0.1 with a fresh data folder, create keys with `canter keys create`, make a self-signed
certificate for 127.0.0.1, stop the server with SIGTERM.

The binary is $CANTER_BINARY (ctest sets it), else build/canter of this checkout.
Missing prerequisites go through skip(): exit 77 (ctest's SKIP_RETURN_CODE), or exit 1 when
CI=true, so a CI run never passes by skipping.
"""

import importlib.util
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BINARY = os.environ.get("CANTER_BINARY") or os.path.join(REPO, "build", "canter")
INSTALL_HINT = "bash scripts/install-test-packages.sh"


def skip(reason):
    """Ends the test as skipped (77), or failed (1) under CI=true."""
    print("SKIP: " + reason, flush=True)
    if os.environ.get("CI") == "true":
        print("CI=true: a missing prerequisite fails the test instead of skipping it", flush=True)
        sys.exit(1)
    sys.exit(77)


def require_modules(*names):
    """skip() unless every module is importable (checked without importing it)."""
    missing = [n for n in names if importlib.util.find_spec(n) is None]
    if missing:
        skip("Python packages missing for %s: %s (%s; or set CANTER_TEST_PYTHON)"
             % (sys.executable, ", ".join(missing), INSTALL_HINT))


def require_binary():
    if not os.access(BINARY, os.X_OK):
        skip("no canter binary at %s (build it, or set CANTER_BINARY)" % BINARY)


def check(cond, message):
    if not cond:
        raise AssertionError("check failed: " + message)


def create_key(data, name, credits=1000):
    out = subprocess.run([BINARY, "keys", "create", "--name", name, "--credits", str(credits), "--data", data],
                         check=True, capture_output=True, text=True).stdout
    return out.strip().split("\n")[-1]


def make_certificate(folder):
    """A self-signed certificate + key for 127.0.0.1 (subjectAltName IP:127.0.0.1) in `folder`."""
    if shutil.which("openssl") is None:
        skip("no openssl command to make a test certificate (Debian: openssl)")
    cert, key = os.path.join(folder, "server.crt"), os.path.join(folder, "server.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", key, "-out", cert], check=True, capture_output=True)
    return cert, key


class Server:
    """`canter serve --data TMP --host 127.0.0.1 --port 0 EXTRA...`, started and listening."""

    def __init__(self, extra=(), startup_timeout=300):
        require_binary()
        self.data = tempfile.mkdtemp(prefix="canter-web-")
        self._log = []
        self._lock = threading.Lock()
        self._listening = threading.Event()
        self.url = None
        self.proc = subprocess.Popen([BINARY, "serve", "--data", self.data, "--host", "127.0.0.1", "--port", "0", *extra],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
        threading.Thread(target=self._read, daemon=True).start()
        deadline = time.monotonic() + startup_timeout
        while not self._listening.wait(0.1):
            if self.proc.poll() is not None:
                time.sleep(0.2)  # let the reader catch the last lines
                raise RuntimeError("canter serve exited (%s):\n%s" % (self.proc.returncode, self.log()))
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("canter serve did not start in %d s:\n%s" % (startup_timeout, self.log()))

    def _read(self):
        for line in self.proc.stdout:
            with self._lock:
                self._log.append(line)
            m = re.search(r"listening on (https?://127\.0\.0\.1:\d+)", line)
            if m and not self._listening.is_set():
                self.url = m.group(1)
                self._listening.set()

    @property
    def port(self):
        return int(self.url.rsplit(":", 1)[1])

    def log(self):
        with self._lock:
            return "".join(self._log)

    def stop(self):
        """SIGTERM, then SIGKILL after 30 s; removes the data folder."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.data, ignore_errors=True)


def run(name, body, server):
    """Runs body(); on an exception prints it with the server log and exits 1; always stops the
    server; prints PASS NAME on success."""
    try:
        body()
    except Exception:
        traceback.print_exc()
        print("--- server log ---\n" + server.log(), file=sys.stderr, flush=True)
        sys.exit(1)
    finally:
        server.stop()
    print("PASS " + name, flush=True)
