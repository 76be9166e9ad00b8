// Shared helpers for the node tests: start a real `canter serve` (demo model) on 127.0.0.1 with a
// fresh data dir, create keys with `canter keys create`, stop it.
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const binary = process.env.CANTER_BINARY || new URL("../../build/canter", import.meta.url).pathname;

export function createKey(data, name, credits = 1000) {
  const out = execFileSync(binary, ["keys", "create", "--name", name, "--credits", String(credits), "--data", data]).toString();
  return out.trim().split("\n").pop();
}

export async function startServer(extra = []) {
  const data = mkdtempSync(join(tmpdir(), "canter-web-"));
  const proc = spawn(binary, ["serve", "--data", data, "--host", "127.0.0.1", "--port", "0", ...extra], { stdio: ["ignore", "pipe", "pipe"] });
  let log = "";
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("canter serve did not start:\n" + log)), 300000);
    const onData = (chunk) => {
      log += chunk;
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(log);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    };
    proc.stdout.on("data", onData);
    proc.stderr.on("data", onData);
    proc.on("exit", (code) => reject(new Error("canter serve exited (" + code + "):\n" + log)));
  });
  return {
    url, data, proc,
    log: () => log,
    stop: () => new Promise((resolve) => { proc.removeAllListeners("exit"); proc.on("exit", resolve); proc.kill("SIGTERM"); }),
  };
}

export function check(cond, message) {
  if (!cond) throw new Error("check failed: " + message);
}
