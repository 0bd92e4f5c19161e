#ifndef EASEL_COORDINATOR_API_HTTP_TRAINING_PAGE_H_
#define EASEL_COORDINATOR_API_HTTP_TRAINING_PAGE_H_

namespace easel::coordinator {

// The page at a training's urls.web: it reads GET /v1/trainings/ID with the API token the
// visitor enters (kept in the browser's localStorage) and refreshes until the training ends.
inline constexpr char kTrainingPage[] = R"html(<!doctype html>
<html><head><meta charset="utf-8"><title>Easel training</title>
<style>
body{font:14px system-ui,sans-serif;margin:2em;max-width:60em}
pre{background:#f4f4f4;padding:1em;overflow:auto;max-height:30em}
.status{font-weight:bold}
</style></head>
<body>
<h1>Training <span id="id"></span></h1>
<p id="ask" hidden>API token: <input id="token" type="password" size="40">
<button id="save">Show</button></p>
<p>Status: <span class="status" id="status">loading</span> <span id="error"></span></p>
<p id="progress"></p>
<p id="output"></p>
<pre id="logs"></pre>
<script>
const id = location.pathname.split("/").pop();
document.getElementById("id").textContent = id;
const $ = (name) => document.getElementById(name);
$("save").onclick = () => { localStorage.setItem("easel-token", $("token").value); refresh(); };
async function refresh() {
  const token = localStorage.getItem("easel-token");
  if (!token) { $("ask").hidden = false; return; }
  const response = await fetch("/v1/trainings/" + id, {headers: {Authorization: "Bearer " + token}});
  const body = await response.json();
  if (!response.ok) { $("ask").hidden = false; $("status").textContent = body.detail; return; }
  $("ask").hidden = true;
  $("status").textContent = body.status;
  $("error").textContent = body.error || "";
  const lines = body.logs.trimEnd().split("\n");
  $("progress").textContent = lines.filter((l) => l.includes("it/s")).pop() || "";
  $("output").textContent = body.output ? "Version " + body.output.version : "";
  $("logs").textContent = body.logs;
  if (!["succeeded", "failed", "canceled"].includes(body.status)) setTimeout(refresh, 2000);
}
refresh();
</script></body></html>
)html";

}  // namespace easel::coordinator

#endif  // EASEL_COORDINATOR_API_HTTP_TRAINING_PAGE_H_
