// livebokeh control page: reads /api/settings, posts each change, shows the MJPEG preview.
"use strict";

const token = new URLSearchParams(location.search).get("token");
const withToken = (url) => (token ? `${url}?token=${encodeURIComponent(token)}` : url);
const $ = (id) => document.getElementById(id);

// Changes are posted one after another, so the server ends with the last one the user made
// (parallel requests may arrive out of order).
let pending = Promise.resolve();
function send(changes) {
  pending = pending.then(() => post(changes)).catch((err) => {
    $("error").textContent = String(err);
  });
  return pending;
}

async function post(changes) {
  const headers = { "Content-Type": "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  const reply = await fetch("api/settings", {
    method: "POST", headers, body: JSON.stringify(changes),
  });
  const body = await reply.json();
  $("error").textContent = reply.ok ? "" : body.error;
  if (reply.ok) show(body);
}

function show(settings) {
  $("enabled").checked = settings.enabled;
  $("style").value = settings.style;
  $("strength").value = settings.strength;
  $("strength-value").textContent = Math.round(settings.strength);
  $("blades").value = String(settings.blades);
  $("grain").value = String(settings.grain);
  const mode = settings.background.startsWith("#") ? "colour" : settings.background;
  $("background-mode").value = mode;
  $("colour-row").hidden = mode !== "colour";
  if (mode === "colour") $("colour").value = settings.background;
  $("focus").textContent = settings.focus;
  $("people").value = settings.people;
}

function background() {
  const mode = $("background-mode").value;
  return mode === "colour" ? $("colour").value : mode;
}

function wire() {
  $("enabled").addEventListener("change", (e) => send({ enabled: e.target.checked }));
  $("style").addEventListener("change", (e) => send({ style: e.target.value }));
  $("strength").addEventListener("input", (e) => {
    $("strength-value").textContent = e.target.value;
    send({ strength: Number(e.target.value) });
  });
  $("blades").addEventListener("change", (e) => send({ blades: Number(e.target.value) }));
  $("grain").addEventListener("change", (e) => send({ grain: e.target.value }));
  $("background-mode").addEventListener("change", () => send({ background: background() }));
  $("colour").addEventListener("change", () => send({ background: background() }));
  $("people").addEventListener("change", (e) => {
    $("click-sets").value = e.target.value === "main" ? "subject" : "focus";
    send({ people: e.target.value });
  });
  $("preview").addEventListener("click", (e) => {
    const box = e.target.getBoundingClientRect();
    const x = Math.min(1, Math.max(0, (e.clientX - box.left) / box.width));
    const y = Math.min(1, Math.max(0, (e.clientY - box.top) / box.height));
    const mark = $("focus-mark");
    mark.style.left = `${e.clientX - box.left}px`;
    mark.style.top = `${e.clientY - box.top}px`;
    mark.hidden = false;
    const point = `${x.toFixed(3)},${y.toFixed(3)}`;
    if ($("click-sets").value === "subject") {
      $("people").value = "main";
      send({ people: "main", subject: point });
    } else {
      send({ focus: point });
    }
  });
}

async function start() {
  $("preview").src = withToken("stream.mjpg");
  $("stream-link").href = withToken("stream.mjpg");
  $("overlay-link").href = withToken("overlay");
  const headers = token ? { Authorization: `Bearer ${token}` } : {};
  const reply = await fetch("api/settings", { headers });
  show(await reply.json());
  wire();
  document.body.dataset.ready = "1";
}

start();
