// The official clients, unchanged, against canter serve:
//  * @fal-ai/client with a request middleware that routes queue.fal.run to canter's /v1/queue;
//  * openai (videos API) with baseURL = canter's /v1.
// Run: node tests/web/clients.mjs  (CANTER_BINARY=path/to/canter; exits 77 if the packages are missing)
import { startServer, createKey, check } from "./serve.mjs";

let fal, OpenAI;
try {
  ({ fal } = await import("@fal-ai/client"));
  ({ default: OpenAI } = await import("openai"));
} catch (e) {
  console.log("SKIP: npm packages missing (cd tests/web && npm ci): " + e.message);
  process.exit(77);
}

const server = await startServer();
try {
  const key = createKey(server.data, "clients");

  // --- @fal-ai/client ------------------------------------------------------------------------
  fal.config({
    credentials: key,  // sent as "Authorization: Key <key>"
    requestMiddleware: async (request) => ({
      ...request,
      url: request.url.replace(/^https:\/\/queue\.fal\.run/, server.url + "/v1/queue"),
    }),
  });
  const updates = [];
  const result = await fal.subscribe("canter/text-to-video", {
    input: { prompt: "a paper lantern floating up at night", duration: 1, steps: 1, resolution: "256p", seed: 11 },
    logs: true,
    pollInterval: 200,
    onQueueUpdate: (u) => updates.push(u.status),
  });
  check(result.requestId && result.requestId.startsWith("req_"), "fal requestId: " + JSON.stringify(result));
  check(result.data.video.url.startsWith(server.url + "/v1/files/"), "fal video url: " + JSON.stringify(result.data));
  check(result.data.seed === 11, "seed round-trips");
  check(updates.includes("COMPLETED"), "status updates: " + updates.join(","));
  const mp4 = Buffer.from(await (await fetch(result.data.video.url)).arrayBuffer());
  check(mp4.subarray(4, 8).toString() === "ftyp", "fal result is an MP4");
  console.log("fal subscribe ok:", result.requestId, updates.filter((v, i, a) => a.indexOf(v) === i).join(" -> "));

  const { request_id } = await fal.queue.submit("canter/text-to-video", { input: { prompt: "a slow train", duration: 15, resolution: "256p" } });
  const st = await fal.queue.status("canter/text-to-video", { requestId: request_id, logs: true });
  check(["IN_QUEUE", "IN_PROGRESS"].includes(st.status), "fal status: " + JSON.stringify(st));
  await fal.queue.cancel("canter/text-to-video", { requestId: request_id });
  let after;
  for (let i = 0; i < 1500; i++) {
    after = await fal.queue.status("canter/text-to-video", { requestId: request_id });
    if (after.status === "COMPLETED") break;
    await new Promise((r) => setTimeout(r, 200));
  }
  check(after.status === "COMPLETED" && after.error_type === "client_cancelled", "fal cancel: " + JSON.stringify(after));
  console.log("fal submit/status/cancel ok:", request_id);

  // Streaming status through the client's SSE reader.
  const { request_id: sid } = await fal.queue.submit("canter/text-to-video", { input: { prompt: "waves", duration: 1, steps: 1, resolution: "256p" } });
  const stream = await fal.queue.streamStatus("canter/text-to-video", { requestId: sid, logs: true });
  const seen = [];
  stream.on("data", (d) => seen.push(d.status));
  const final = await stream.done();
  check(final.status === "COMPLETED", "fal streamStatus final: " + JSON.stringify(final));
  console.log("fal streamStatus ok:", seen.filter((v, i, a) => a.indexOf(v) === i).join(" -> "));

  // Errors surface as the client's ApiError with the status.
  try {
    await fal.queue.submit("canter/text-to-video", { input: { prompt: "x", duration: 99 } });
    check(false, "invalid input must fail");
  } catch (e) {
    check(e.status === 422, "fal validation error status: " + e.status + " " + e.message);
    check(/duration/.test(e.message), "message names the field: " + e.message);
  }

  // --- openai ----------------------------------------------------------------------------------
  const openai = new OpenAI({ apiKey: key, baseURL: server.url + "/v1" });
  let video = await openai.videos.create({ model: "canter", prompt: "a cup of tea steaming on a windowsill", seconds: "1", size: "448x256",
  steps: 1 /* canter extension: keep the CPU test short */ });
  check(video.object === "video" && video.id.startsWith("req_"), "openai create: " + JSON.stringify(video));
  while (video.status === "queued" || video.status === "in_progress") {
    await new Promise((r) => setTimeout(r, 500));
    video = await openai.videos.retrieve(video.id);
  }
  check(video.status === "completed", "openai final status: " + JSON.stringify(video));
  const content = await openai.videos.downloadContent(video.id);
  const bytes = Buffer.from(await content.arrayBuffer());
  check(bytes.subarray(4, 8).toString() === "ftyp", "openai content is an MP4");
  const page = await openai.videos.list({ limit: 10 });
  check(page.data.some((v) => v.id === video.id), "openai list contains the video");
  const del = await openai.videos.delete(video.id);
  check(del.deleted === true, "openai delete: " + JSON.stringify(del));
  try {
    await openai.videos.retrieve(video.id);
    check(false, "deleted video must be gone");
  } catch (e) {
    check(e.status === 404, "deleted video 404: " + e.status);
  }
  try {
    await new OpenAI({ apiKey: "ck_wrong", baseURL: server.url + "/v1" }).videos.list();
    check(false, "wrong key must fail");
  } catch (e) {
    check(e.status === 401, "wrong key 401: " + e.status);
  }
  console.log("openai videos create/retrieve/downloadContent/list/delete ok:", video.id);
  console.log("PASS clients");
} catch (e) {
  console.error(e);
  console.error("--- server log ---\n" + server.log());
  process.exitCode = 1;
} finally {
  await server.stop();
}
