// Acceptance test: drives Easel's Replicate-compatible HTTP API with the
// official, unmodified `replicate` npm client. Exits 0 when every check passes,
// 1 otherwise (printing the failed step, expected vs got, and the server's
// response for an ApiError). See README.md for the environment it needs.
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { createServer } from "node:http";
import { basename } from "node:path";
import Replicate, { validateWebhook } from "replicate";

const OVERALL_TIMEOUT_MS = 240_000;
const POLL_MS = 500;
const TERMINAL = ["succeeded", "failed", "canceled"];
const ISO_8601 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})$/;

let currentStep = "setup";
const webhooks = []; // {method, url, headers, body} of every request the receiver got

function fail(what) {
  console.error(`FAIL [${currentStep}] ${what}`);
  if (webhooks.length > 0) {
    console.error(`  webhooks received so far: ${webhooks.length}, statuses: ` +
      webhooks.map((w) => tryParse(w.body)?.status ?? "?").join(","));
  }
  process.exit(1);
}

// Throws an Error that says what was expected and what came back.
function check(ok, what, expected, got) {
  if (!ok) {
    throw new Error(`${what}: expected ${expected}, got ${JSON.stringify(got)}`);
  }
}

function tryParse(text) {
  try { return JSON.parse(text); } catch { return undefined; }
}

function env(name, fallback) {
  const value = process.env[name] ?? fallback;
  if (value === undefined || value === "") fail(`environment variable ${name} is not set`);
  return value;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function isIso(value) {
  return typeof value === "string" && ISO_8601.test(value) && !Number.isNaN(Date.parse(value));
}

function isUrl(value) {
  if (typeof value !== "string") return false;
  try { new URL(value); return true; } catch { return false; }
}

async function step(name, fn) {
  currentStep = name;
  try {
    return await fn();
  } catch (err) {
    if (err && err.name === "ApiError") {
      // The client has already read the response body into err.message.
      const req = err.request ? `${err.request.method} ${err.request.url}` : "request";
      fail(`${req} -> HTTP ${err.response?.status}\n  ${err.message}`);
    }
    const cause = err && err.cause ? `\n  cause: ${err.cause.stack ?? err.cause}` : "";
    fail((err && err.stack ? err.stack : String(err)) + cause);
  }
}

async function pollUntilTerminal(replicate, id) {
  for (;;) {
    const training = await replicate.trainings.get(id);
    if (TERMINAL.includes(training.status)) return training;
    await sleep(POLL_MS);
  }
}

setTimeout(() => fail(`overall timeout: not done after ${OVERALL_TIMEOUT_MS / 1000} s`),
  OVERALL_TIMEOUT_MS);

const baseUrl = env("EASEL_BASE_URL");
const token = env("EASEL_API_TOKEN");
const zipPath = env("EASEL_DATASET_ZIP");
const [baseOwner, baseName] = env("EASEL_BASE_MODEL").split("/");
const baseVersion = env("EASEL_BASE_VERSION");
const destination = env("EASEL_DESTINATION");
const extraInput = tryParse(env("EASEL_TRAIN_INPUT", "{}"));
if (typeof extraInput !== "object" || extraInput === null) fail("EASEL_TRAIN_INPUT is not a JSON object");
const [destOwner, destName] = destination.split("/");

const replicate = new Replicate({ auth: token, baseUrl });

// 1. Webhook receiver.
const hookUrl = await step("webhook receiver", async () => {
  const server = createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      webhooks.push({ method: req.method, url: req.url, headers: req.headers,
                      body: Buffer.concat(chunks).toString("utf8") });
      res.writeHead(200, { "Content-Type": "text/plain" }).end("ok");
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  server.unref();
  const url = `http://127.0.0.1:${server.address().port}/hook`;
  console.log(`ok webhook receiver ${url}`);
  return url;
});

// 2. Upload the dataset.
const file = await step("files.create", async () => {
  const bytes = await readFile(zipPath);
  const sha256 = createHash("sha256").update(bytes).digest("hex");
  const blob = new File([bytes], basename(zipPath), { type: "application/zip" });
  const f = await replicate.files.create(blob, { purpose: "training" });
  check(typeof f.id === "string" && f.id.length > 0, "file.id", "a non-empty string", f.id);
  check(f.size === bytes.length, "file.size", bytes.length, f.size);
  check(f.checksums?.sha256 === sha256, "file.checksums.sha256", sha256, f.checksums);
  check(typeof f.urls?.get === "string", "file.urls.get", "a string", f.urls);
  console.log(`ok files.create id=${f.id} size=${f.size} url=${f.urls.get}`);
  return f;
});

const input = { input_images: file.urls.get, ...extraInput };

// 3. Start a training that reports to the receiver.
const created = await step("trainings.create", async () => {
  const t = await replicate.trainings.create(baseOwner, baseName, baseVersion, {
    destination, input, webhook: hookUrl,
    webhook_events_filter: ["start", "output", "logs", "completed"],
  });
  check(typeof t.id === "string" && t.id.length > 0, "training.id", "a non-empty string", t.id);
  check(["starting", "processing"].includes(t.status), "training.status", "starting|processing", t.status);
  console.log(`ok trainings.create id=${t.id} status=${t.status}`);
  return t;
});

// 4. Poll it to completion.
const versionId = await step("trainings.get (poll)", async () => {
  const t = await pollUntilTerminal(replicate, created.id);
  check(t.status === "succeeded", "final status", "succeeded", { status: t.status, error: t.error, logs: t.logs });
  const prefix = `${destination}:`;
  const version = t.output?.version;
  check(typeof version === "string" && version.startsWith(prefix) && version.length > prefix.length,
    "output.version", `"${prefix}VERSIONID"`, t.output);
  check(isUrl(t.output.weights), "output.weights", "a URL string", t.output.weights);
  check(typeof t.logs === "string", "logs", "a string", typeof t.logs);
  check(typeof t.metrics?.total_time === "number", "metrics.total_time", "a number", t.metrics);
  for (const key of ["created_at", "started_at", "completed_at"]) {
    check(isIso(t[key]), key, "an ISO 8601 string", t[key]);
  }
  check(typeof t.urls?.get === "string" && typeof t.urls?.cancel === "string",
    "urls.get/urls.cancel", "strings", t.urls);
  console.log(`ok trainings.get id=${t.id} status=${t.status} version=${t.output.version} ` +
    `total_time=${t.metrics.total_time}`);
  return version.slice(prefix.length);
});

// 5. It shows up in the list.
await step("trainings.list", async () => {
  const page = await replicate.trainings.list();
  check(Array.isArray(page.results), "page.results", "an array", page);
  const ids = page.results.map((t) => t.id);
  check(ids.includes(created.id), "page.results ids", `to include ${created.id}`, ids);
  console.log(`ok trainings.list ${page.results.length} result(s) include ${created.id}`);
});

// 6. The new version is a model version.
await step("models.versions.get", async () => {
  const v = await replicate.models.versions.get(destOwner, destName, versionId);
  check(v.id === versionId, "version.id", versionId, v.id);
  console.log(`ok models.versions.get ${destOwner}/${destName}:${v.id}`);
});

// 7. A second training, canceled right away.
await step("trainings.cancel", async () => {
  const t2 = await replicate.trainings.create(baseOwner, baseName, baseVersion, { destination, input });
  check(typeof t2.id === "string" && t2.id !== created.id, "second training id", "a new id", t2.id);
  const canceled = await replicate.trainings.cancel(t2.id);
  check(canceled.id === t2.id, "cancel response id", t2.id, canceled.id);
  const final = await pollUntilTerminal(replicate, t2.id);
  check(final.status === "canceled", "status after cancel", "canceled", final.status);
  console.log(`ok trainings.cancel id=${t2.id} cancel-response=${canceled.status} final=${final.status}`);
});

// 8. Webhooks arrived, are signed with the account's secret, and carry the training.
await step("webhooks", async () => {
  const secret = await replicate.webhooks.default.secret.get();
  check(typeof secret.key === "string" && secret.key.startsWith("whsec_"), "secret.key", "whsec_...", secret);
  console.log("ok webhooks.default.secret.get");

  const sawStatus = (s) => webhooks.some((w) => tryParse(w.body)?.status === s);
  for (let waited = 0; !sawStatus("succeeded"); waited += POLL_MS) {
    check(waited < 30_000, "a webhook with status succeeded within 30 s", "one",
      webhooks.map((w) => tryParse(w.body)?.status));
    await sleep(POLL_MS);
  }
  for (const [i, w] of webhooks.entries()) {
    const what = `webhook #${i} (${w.headers["webhook-id"]})`;
    check(w.method === "POST" && w.url === "/hook", `${what} request`, "POST /hook", `${w.method} ${w.url}`);
    const body = tryParse(w.body);
    check(body && body.id === created.id, `${what} body.id`, created.id, body ? body.id : w.body);
    check(typeof body.status === "string", `${what} body.status`, "a string", body.status);
    // Both documented call forms: a fetch Request with the secret, and the fields.
    const request = new Request("http://127.0.0.1/hook",
      { method: "POST", headers: w.headers, body: w.body });
    const viaRequest = await validateWebhook(request, secret.key);
    check(viaRequest === true, `${what} validateWebhook(request, secret)`, true, viaRequest);
    const viaFields = await validateWebhook({
      id: w.headers["webhook-id"], timestamp: w.headers["webhook-timestamp"],
      signature: w.headers["webhook-signature"], body: w.body, secret: secret.key,
    });
    check(viaFields === true, `${what} validateWebhook({id,...})`, true, viaFields);
  }
  check(sawStatus("starting") || sawStatus("processing"), "a webhook with status starting|processing",
    "at least one", webhooks.map((w) => tryParse(w.body)?.status));
  console.log(`ok webhooks ${webhooks.length} received, all valid: ` +
    webhooks.map((w) => tryParse(w.body)?.status).join(","));
});

console.log("PASS");
process.exit(0);
