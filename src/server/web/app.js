// canter web page: talks to the same HTTP API as any client (queue API to submit and stream
// progress, videos API for history/delete, /v1/me for credits). No dependencies.
"use strict";
const $ = (id) => document.getElementById(id);
let apiKey = localStorage.getItem("canter.key") || "";
let current = null;  // { id, controller }

function headers(json) {
  const h = { Authorization: "Bearer " + apiKey };
  if (json) h["Content-Type"] = "application/json";
  return h;
}

async function api(method, path, body) {
  const res = await fetch(path, { method, headers: headers(body !== undefined), body: body === undefined ? undefined : JSON.stringify(body) });
  const data = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error((data.error && data.error.message) || data.detail || ("HTTP " + res.status));
  return data;
}

function showError(msg) {
  $("error").textContent = msg || "";
  $("error").hidden = !msg;
}

async function refreshAccount() {
  if (!apiKey) { $("credits").textContent = "no key"; return; }
  try {
    const me = await api("GET", "/v1/me");
    $("credits").textContent = me.credits + " credits";
  } catch (e) { $("credits").textContent = e.message; }
}

async function loadModel() {
  try {
    const h = await (await fetch("/health")).json();
    const allowed = (h.model && h.model.resolutions) || [];
    if (allowed.length) for (const o of $("resolution").options) o.disabled = !allowed.includes(o.value);
    const first = [...$("resolution").options].find((o) => !o.disabled);
    if (first) $("resolution").value = first.value;
  } catch (_) { /* the form still works with the defaults */ }
}

let imageData = "";
$("image").addEventListener("change", () => {
  const file = $("image").files[0];
  imageData = "";
  $("image-preview").hidden = true;
  if (!file) return;
  if (file.size > 10 * 1024 * 1024) { showError("image is larger than 10 MB"); $("image").value = ""; return; }
  const reader = new FileReader();
  reader.onload = () => { imageData = reader.result; $("image-preview").src = imageData; $("image-preview").hidden = false; };
  reader.readAsDataURL(file);
});

$("save-key").addEventListener("click", () => {
  apiKey = $("api-key").value.trim();
  localStorage.setItem("canter.key", apiKey);
  refreshAccount();
  loadHistory();
});

$("refine").addEventListener("click", async () => {
  showError("");
  try {
    const out = await api("POST", "/v1/prompts/refine", { idea: $("prompt").value, language: $("language").value });
    $("prompt").value = out.prompt;
    $("refine-note").textContent = out.source === "llm" ? "refined by the prompt model" : "structured by the builder" + (out.warning ? " (" + out.warning + ")" : "");
  } catch (e) { showError(e.message); }
});

function setProgress(fraction, text) {
  $("progress").value = Math.round(fraction * 100);
  $("progress-text").textContent = text;
}

// Server-Sent Events over fetch (EventSource cannot send the Authorization header).
async function streamStatus(statusUrl, onEvent, signal) {
  const res = await fetch(statusUrl + "/stream?logs=0", { headers: headers(false), signal });
  if (!res.ok) throw new Error("status stream: HTTP " + res.status);
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const event = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      for (const line of event.split("\n")) if (line.startsWith("data: ")) onEvent(JSON.parse(line.slice(6)));
    }
  }
}

$("generate").addEventListener("click", async () => {
  showError("");
  if (!apiKey) { showError("enter an API key first"); return; }
  const body = {
    prompt: $("prompt").value,
    duration: Number($("duration").value),
    aspect_ratio: $("aspect").value,
    resolution: $("resolution").value,
    generate_audio: $("audio").checked,
    language: $("language").value,
  };
  if (imageData) body.image_url = imageData;
  $("generate").disabled = true;
  try {
    const sub = await api("POST", "/v1/queue/canter", body);
    refreshAccount();
    const controller = new AbortController();
    current = { id: sub.request_id, cancelUrl: sub.cancel_url, controller };
    $("status").hidden = false;
    setProgress(0, "queued");
    let last = null;
    await streamStatus(sub.status_url, (s) => {
      last = s;
      if (s.status === "IN_QUEUE") setProgress(0, "queued, position " + s.queue_position);
      else if (s.status === "IN_PROGRESS" && s.progress) setProgress(s.progress.fraction, s.progress.stage + " " + (s.progress.message || ""));
      else if (s.status === "COMPLETED" && s.error_type) setProgress(0, s.cancelled ? "cancelled" : "failed");
      else if (s.status === "COMPLETED") setProgress(1, "done");
    }, controller.signal);
    if (last && last.status === "COMPLETED" && !last.error_type) {
      const result = await api("GET", sub.response_url.replace(/^https?:\/\/[^/]+/, ""));
      $("result").hidden = false;
      $("player").src = result.video.url;
      $("result-info").textContent = result.width + "×" + result.height + ", " + result.duration.toFixed(1) + " s, seed " + result.seed +
        (result.demo_model ? " (demo model)" : "");
    } else if (last && last.error_type) {
      showError(last.error || "generation failed");
    }
  } catch (e) {
    if (e.name !== "AbortError") showError(e.message);
  } finally {
    current = null;
    $("generate").disabled = false;
    refreshAccount();
    loadHistory();
  }
});

$("cancel").addEventListener("click", async () => {
  if (!current) return;
  try { await fetch(current.cancelUrl.replace(/^https?:\/\/[^/]+/, ""), { method: "PUT", headers: headers(false) }); } catch (_) {}
});

async function loadHistory() {
  const box = $("history");
  if (!apiKey) { box.textContent = ""; return; }
  let list;
  try { list = await api("GET", "/v1/videos?limit=50"); } catch (e) { box.textContent = e.message; return; }
  box.textContent = "";
  for (const v of list.data) {
    const item = document.createElement("div");
    item.className = "item";
    item.dataset.id = v.id;
    if (v.url) {
      const video = document.createElement("video");
      video.src = v.url;
      video.controls = true;
      video.preload = "metadata";
      item.appendChild(video);
    }
    const p = document.createElement("div");
    p.className = "prompt";
    p.textContent = v.prompt;
    p.title = v.prompt;
    item.appendChild(p);
    const meta = document.createElement("div");
    meta.className = "note";
    meta.textContent = v.status + " · " + v.seconds + " s · " + new Date(v.created_at * 1000).toLocaleString();
    item.appendChild(meta);
    const actions = document.createElement("div");
    actions.className = "actions";
    if (v.url) {
      const a = document.createElement("a");
      a.className = "download";
      a.href = v.url + "&download=1";
      a.download = v.id + ".mp4";
      a.textContent = "Download";
      actions.appendChild(a);
    }
    const del = document.createElement("button");
    del.className = "delete";
    del.type = "button";
    del.textContent = "Delete";
    del.addEventListener("click", async () => {
      try { await api("DELETE", "/v1/videos/" + v.id); item.remove(); refreshAccount(); } catch (e) { showError(e.message); }
    });
    actions.appendChild(del);
    item.appendChild(actions);
    box.appendChild(item);
  }
}

$("api-key").value = apiKey;
loadModel();
refreshAccount();
loadHistory();
