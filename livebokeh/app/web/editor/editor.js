// livebokeh photo editor. The server keeps every photo, its settings and strokes; this page
// sends changes as JSON, one after another, and shows the screen-sized preview it gets back.
"use strict";

const token = new URLSearchParams(location.search).get("token");
const $ = (id) => document.getElementById(id);
const withToken = (url) => (token ? `${url}?token=${encodeURIComponent(token)}` : url);
const authHeaders = (extra = {}) => (token ? { ...extra, Authorization: `Bearer ${token}` } : extra);

const editor = {
  photos: new Map(), // id → info from the server
  current: null, // id of the photo on screen
  people: false, // the server can keep one person sharp (people=main)
  previewSize: 0,
  afterUrl: null,
  beforeUrl: null,
};

// --- talking to the server -------------------------------------------------------------------

class ServerError extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

async function call(path, body, options = {}) {
  const reply = await fetch(`api/${path}`, {
    method: body === undefined ? "GET" : "POST",
    headers: authHeaders(body === undefined ? {} : { "Content-Type": options.type || "application/json" }),
    body: body === undefined || options.type ? body : JSON.stringify(body),
  });
  const kind = reply.headers.get("Content-Type") || "";
  if (!reply.ok) {
    const error = kind.includes("json") ? (await reply.json()).error : reply.statusText;
    throw new ServerError(error || `HTTP ${reply.status}`, reply.status);
  }
  return kind.includes("json") ? reply.json() : reply.blob();
}

function showError(error) {
  $("error").textContent = error ? String(error.message || error) : "";
}

function status(text) {
  $("status").textContent = text;
}

// One queue of changes, sent in order; settings changes made while one is on its way merge
// into the next, and the preview is fetched once the queue is empty, so a slider drag sends
// the latest value and never piles up requests.
const queue = [];
let needPreview = false;
let pumping = null;

function enqueue(path, body, merge = false) {
  const last = queue[queue.length - 1];
  if (merge && last && last.merge && last.path === path) Object.assign(last.body, body);
  else queue.push({ path, body, merge });
  needPreview = true;
  return pump();
}

function refresh() {
  needPreview = true;
  return pump();
}

function pump() {
  if (!pumping && (queue.length || needPreview)) {
    pumping = (async () => {
      await null; // run on after the assignment, so that the finally below clears it
      try {
        while (queue.length || needPreview) {
          if (queue.length) {
            const item = queue.shift();
            try {
              remember(await call(item.path, item.body));
              showError(null);
            } catch (error) {
              showError(error);
              if (editor.current) remember(await call("state").then(findCurrent));
            }
            continue;
          }
          needPreview = false;
          await loadPreview();
        }
      } catch (error) {
        showError(error);
      } finally {
        pumping = null;
      }
    })();
  }
  return pumping || Promise.resolve();
}

function findCurrent(state) {
  return state.photos.find((photo) => photo.id === editor.current);
}

// Resolves once every change made so far is on the server and its preview is on screen.
window.editorIdle = () => pump();

// --- photos --------------------------------------------------------------------------------

function remember(info) {
  if (!info || !info.id) return;
  editor.photos.set(info.id, info);
  if (info.id === editor.current) showSettings(info);
}

function addToStrip(info) {
  if (!$(`thumb-${info.id}`)) {
    const button = document.createElement("button");
    button.type = "button";
    button.id = `thumb-${info.id}`;
    button.title = info.name;
    const img = document.createElement("img");
    img.alt = info.name;
    img.src = withToken(`api/photos/${info.id}/thumb.jpg`);
    button.append(img);
    button.addEventListener("click", () => select(info.id));
    $("strip").append(button);
  }
  editor.photos.set(info.id, info);
}

async function select(id) {
  editor.current = id;
  for (const button of $("strip").children) {
    button.classList.toggle("current", button.id === `thumb-${id}`);
  }
  const info = editor.photos.get(id);
  $("frame").hidden = false;
  $("drop-hint").hidden = true;
  $("export-name").value = exportName(info);
  showSettings(info);
  layout();
  editor.beforeUrl = null;
  await refresh();
}

function exportName(info) {
  const stem = info.export_name.replace(/\.[^.]+$/, "");
  return stem + $("format").value;
}

async function opened(info) {
  addToStrip(info);
  if (!editor.current) await select(info.id);
}

async function uploadFiles(files) {
  for (const file of files) {
    status(`Opening ${file.name}…`);
    try {
      await opened(await call(`upload?name=${encodeURIComponent(file.name)}`, file,
                              { type: "application/octet-stream" }));
      showError(null);
    } catch (error) {
      showError(error);
    }
  }
  status("");
}

async function openPath(path) {
  status(`Opening ${path}…`);
  try {
    await opened(await call("open", { path }));
    showError(null);
  } catch (error) {
    showError(error);
  }
  status("");
}

// Photos named on the command line open while the page is already up: poll until done.
async function loadState() {
  const state = await call("state");
  editor.people = state.people;
  $("out-dir").textContent = state.out_dir;
  $("limit").textContent = `Largest photo: ${state.limit}.`;
  $("quality").value = state.quality;
  $("person-tool").title = state.people ? "Click a person to keep only them sharp"
    : "Keeping one person sharp (people=main) is not in this version yet";
  $("person-tool").querySelector("input").disabled = !state.people;
  for (const info of state.photos) await opened(info);
  if (state.errors.length) showError(state.errors.join(" · "));
  if (state.loading.length) {
    status(`Opening ${state.loading.join(", ")}…`);
    setTimeout(() => loadState().catch(showError), 700);
  } else {
    status("");
  }
}

// --- controls ------------------------------------------------------------------------------

function showSettings(info) {
  const s = info.settings;
  $("style").value = s.style;
  $("strength").value = s.strength;
  $("strength-value").textContent = Math.round(s.strength);
  $("blades").value = String(s.blades);
  $("near-blur").checked = s.near_blur;
  $("angle").value = s.angle;
  $("angle-value").textContent = Math.round(s.angle);
  $("grain").value = ["auto", "off"].includes(s.grain) ? s.grain : String(Math.round(Number(s.grain)));
  const background = s.background;
  const mode = ["blur", "transparent"].includes(background) ? background
    : background.startsWith("#") ? "colour" : "image";
  $("background-mode").value = mode;
  $("colour-row").hidden = mode !== "colour";
  $("image-row").hidden = mode !== "image";
  if (mode === "colour") $("colour").value = background;
  if (mode === "image") $("background-path").value = background;
  $("focus").textContent = s.style === "radial" ? `centre ${s.center.map((v) => v.toFixed(2))}`
    : s.focus;
  showStyleRows(s.style);
  $("undo").disabled = info.strokes === 0;
  $("redo").disabled = info.undone === 0;
  toolHint();
  showFocusMark(info);
}

// The rows of one style's own controls, shown as soon as the style is picked (not when the
// server answers: the panel would jump under the pointer a moment later).
function showStyleRows(style) {
  for (const el of document.querySelectorAll(".lens-only")) el.hidden = style !== "lens";
  for (const el of document.querySelectorAll(".motion-only")) el.hidden = style !== "motion";
}

function change(values) {
  if (!editor.current) return Promise.resolve();
  return enqueue(`photos/${editor.current}/settings`, values, true);
}

function wireControls() {
  $("style").addEventListener("change", (e) => {
    showStyleRows(e.target.value);
    change({ style: e.target.value });
  });
  $("strength").addEventListener("input", (e) => {
    $("strength-value").textContent = e.target.value;
    change({ strength: Number(e.target.value) });
  });
  $("blades").addEventListener("change", (e) => change({ blades: Number(e.target.value) }));
  $("near-blur").addEventListener("change", (e) => change({ near_blur: e.target.checked }));
  $("angle").addEventListener("input", (e) => {
    $("angle-value").textContent = e.target.value;
    change({ angle: Number(e.target.value) });
  });
  $("grain").addEventListener("change", (e) => change({ grain: e.target.value }));
  $("background-mode").addEventListener("change", (e) => {
    const mode = e.target.value;
    $("colour-row").hidden = mode !== "colour";
    $("image-row").hidden = mode !== "image";
    if (mode === "colour") change({ background: $("colour").value });
    else if (mode !== "image") change({ background: mode });
  });
  $("colour").addEventListener("input", (e) => change({ background: e.target.value }));
  $("background-use").addEventListener("click", () => {
    change({ background: $("background-path").value.trim() });
  });
  $("focus-auto").addEventListener("click", () => change({ focus: "auto" }));
  $("everyone").addEventListener("click", () => {
    if (!editor.current) return;
    call(`photos/${editor.current}/person`, { people: "all" })
      .then(remember).then(refresh).catch(showError);
  });
  for (const radio of document.querySelectorAll("input[name=tool]")) {
    radio.addEventListener("change", toolHint);
  }
  $("brush-size").addEventListener("input", brushLabels);
  $("softness").addEventListener("input", brushLabels);
  brushLabels();
  $("undo").addEventListener("click", undo);
  $("redo").addEventListener("click", redo);
  $("matte-view").addEventListener("change", refresh);
  $("split").addEventListener("input", showSplit);
  $("format").addEventListener("change", () => {
    $("export-name").value = $("export-name").value.replace(/(\.[^.]*)?$/, $("format").value);
    $("quality").disabled = $("format").value === ".png";
  });
  $("export").addEventListener("click", () => exportCurrent());
  $("apply-all").addEventListener("click", applyToAll);
  $("export-all").addEventListener("click", exportAll);
  $("controls").addEventListener("submit", (e) => e.preventDefault());
  $("open-path").addEventListener("submit", (e) => {
    e.preventDefault();
    if ($("path").value.trim()) openPath($("path").value.trim());
  });
  $("file-picker").addEventListener("change", (e) => {
    uploadFiles([...e.target.files]);
    e.target.value = "";
  });
  wireDrop();
  wireKeys();
  wireCanvas();
  window.addEventListener("resize", () => {
    layout();
    refresh();
  });
}

function tool() {
  return document.querySelector("input[name=tool]:checked").value;
}

function toolHint() {
  const info = editor.photos.get(editor.current);
  const style = info ? info.settings.style : "";
  $("tool-hint").textContent = {
    focus: style === "radial" ? "Click the picture to set the zoom centre."
      : style === "lens" ? "Click the picture to focus there." : "Focus applies to the lens style.",
    restore: "Paint where the picture must stay sharp.",
    erase: "Paint where the picture must be blurred.",
    person: "Click a person to keep only them sharp.",
  }[tool()];
}

function brushRadius() {
  return Number($("brush-size").value) / 1000; // fraction of the photo's long side
}

function brushLabels() {
  $("size-value").textContent = `${(brushRadius() * 100).toFixed(1)} %`;
  $("softness-value").textContent = $("softness").value;
}

function undo() {
  if (editor.current) enqueue(`photos/${editor.current}/undo`, {});
}

function redo() {
  if (editor.current) enqueue(`photos/${editor.current}/redo`, {});
}

// --- the picture -----------------------------------------------------------------------------

// The frame takes the photo's aspect ratio, as large as the stage allows.
function layout() {
  const info = editor.photos.get(editor.current);
  if (!info) return;
  const stage = $("stage").getBoundingClientRect();
  const scale = Math.min((stage.width - 16) / info.width, (stage.height - 16) / info.height);
  const width = Math.max(1, Math.floor(info.width * scale));
  const height = Math.max(1, Math.floor(info.height * scale));
  Object.assign($("frame").style, { width: `${width}px`, height: `${height}px` });
  const canvas = $("paint");
  canvas.width = Math.round(width * devicePixelRatio);
  canvas.height = Math.round(height * devicePixelRatio);
  const size = Math.round(Math.max(width, height) * devicePixelRatio);
  if (size !== editor.previewSize) editor.beforeUrl = null; // the original at the new size
  editor.previewSize = size;
  showFocusMark(info);
}

async function previewBlob(view) {
  return call(`photos/${editor.current}/preview`, { size: editor.previewSize, view });
}

async function loadPreview() {
  if (!editor.current) return;
  const id = editor.current;
  const view = $("matte-view").checked ? "matte" : "result";
  const blob = await previewBlob(view);
  if (id !== editor.current) return;
  if (editor.afterUrl) URL.revokeObjectURL(editor.afterUrl);
  editor.afterUrl = URL.createObjectURL(blob);
  $("after").src = editor.afterUrl;
  await $("after").decode().catch(() => {});
  clearCanvas();
  if (!editor.beforeUrl) {
    editor.beforeUrl = URL.createObjectURL(await previewBlob("original"));
    $("before").src = editor.beforeUrl;
  }
  $("after").dataset.version = String(Number($("after").dataset.version || 0) + 1);
}

function showSplit() {
  const split = Number($("split").value);
  $("before").style.clipPath = `inset(0 ${100 - split}% 0 0)`;
}

function showFocusMark(info) {
  const mark = $("focus-mark");
  const s = info && info.settings;
  let point = null;
  if (s && s.style === "lens" && s.focus.includes(",")) point = s.focus.split(",").map(Number);
  if (s && s.style === "radial") point = s.center;
  mark.hidden = !point;
  if (point) {
    mark.style.left = `${point[0] * 100}%`;
    mark.style.top = `${point[1] * 100}%`;
  }
}

// Pointer position as fractions of the photo (0..1), from a pointer event on the canvas.
function photoPoint(event) {
  const box = $("paint").getBoundingClientRect();
  return [(event.clientX - box.left) / box.width, (event.clientY - box.top) / box.height];
}

function clearCanvas() {
  const canvas = $("paint");
  canvas.getContext("2d").clearRect(0, 0, canvas.width, canvas.height);
}

function wireCanvas() {
  const canvas = $("paint");
  let stroke = null;
  canvas.addEventListener("pointerdown", (event) => {
    if (!editor.current || event.button !== 0) return;
    const point = photoPoint(event);
    const mode = tool();
    if (mode === "focus") {
      const [x, y] = point.map((v) => Math.min(1, Math.max(0, v)));
      const style = editor.photos.get(editor.current).settings.style;
      if (style === "radial") change({ center: [Number(x.toFixed(3)), Number(y.toFixed(3))] });
      else change({ focus: `${x.toFixed(3)},${y.toFixed(3)}` });
      return;
    }
    if (mode === "person") {
      call(`photos/${editor.current}/person`, { x: point[0], y: point[1] })
        .then(remember).then(refresh).catch(showError);
      return;
    }
    canvas.setPointerCapture(event.pointerId);
    stroke = { mode, points: [point], radius: brushRadius(),
               softness: Number($("softness").value) / 100 };
    drawStroke(stroke);
  });
  canvas.addEventListener("pointermove", (event) => {
    moveCursor(event);
    if (!stroke) return;
    stroke.points.push(photoPoint(event));
    drawStroke(stroke);
  });
  const finish = () => {
    if (!stroke) return;
    const done = stroke;
    stroke = null;
    done.points = done.points.map(([x, y]) => [Number(x.toFixed(5)), Number(y.toFixed(5))]);
    enqueue(`photos/${editor.current}/stroke`, done);
  };
  canvas.addEventListener("pointerup", finish);
  canvas.addEventListener("pointercancel", finish);
  canvas.addEventListener("pointerleave", () => { $("cursor").hidden = true; });
}

// The stroke as it is being painted (green restore, red erase), until the preview comes back.
function drawStroke(stroke) {
  const canvas = $("paint");
  const context = canvas.getContext("2d");
  const longSide = Math.max(canvas.width, canvas.height);
  context.strokeStyle = stroke.mode === "restore" ? "rgba(80, 220, 120, 0.45)" : "rgba(255, 70, 70, 0.45)";
  context.fillStyle = context.strokeStyle;
  context.lineWidth = 2 * stroke.radius * longSide;
  context.lineCap = "round";
  context.lineJoin = "round";
  context.clearRect(0, 0, canvas.width, canvas.height);
  context.beginPath();
  const [x0, y0] = stroke.points[0];
  context.moveTo(x0 * canvas.width, y0 * canvas.height);
  for (const [x, y] of stroke.points) context.lineTo(x * canvas.width, y * canvas.height);
  if (stroke.points.length === 1) {
    context.arc(x0 * canvas.width, y0 * canvas.height, stroke.radius * longSide, 0, 2 * Math.PI);
    context.fill();
  } else {
    context.stroke();
  }
}

function moveCursor(event) {
  const cursor = $("cursor");
  const brush = ["restore", "erase"].includes(tool());
  cursor.hidden = !brush;
  if (!brush) return;
  const box = $("paint").getBoundingClientRect();
  const diameter = 2 * brushRadius() * Math.max(box.width, box.height);
  Object.assign(cursor.style, {
    width: `${diameter}px`, height: `${diameter}px`,
    left: `${event.clientX - box.left - diameter / 2}px`,
    top: `${event.clientY - box.top - diameter / 2}px`,
  });
}

function wireKeys() {
  const typing = (event) => ["INPUT", "SELECT", "TEXTAREA"].includes(event.target.tagName)
    && !["range", "checkbox", "radio"].includes(event.target.type);
  document.addEventListener("keydown", (event) => {
    if (typing(event)) return;
    const key = event.key.toLowerCase();
    if ((event.ctrlKey || event.metaKey) && key === "z") {
      event.preventDefault();
      if (event.shiftKey) redo(); else undo();
    } else if ((event.ctrlKey || event.metaKey) && key === "y") {
      event.preventDefault();
      redo();
    } else if (event.key === "\\" && !event.repeat) {
      $("before").style.clipPath = "none"; // before, as long as the key is held
    } else if (key === "m" && !event.ctrlKey && !event.metaKey) {
      $("matte-view").checked = !$("matte-view").checked;
      refresh();
    }
  });
  document.addEventListener("keyup", (event) => {
    if (event.key === "\\") showSplit();
  });
}

function wireDrop() {
  const stage = $("stage");
  for (const name of ["dragenter", "dragover"]) {
    document.addEventListener(name, (event) => {
      event.preventDefault();
      stage.classList.add("dragging");
    });
  }
  document.addEventListener("dragleave", () => stage.classList.remove("dragging"));
  document.addEventListener("drop", (event) => {
    event.preventDefault();
    stage.classList.remove("dragging");
    uploadFiles([...event.dataTransfer.files]);
  });
}

// --- export ----------------------------------------------------------------------------------

async function exportPhoto(id, name) {
  const body = { name, quality: Number($("quality").value) };
  try {
    return await call(`photos/${id}/export`, body);
  } catch (error) {
    if (error.status !== 409 || !confirm(`${error.message}. Replace?`)) throw error;
    return call(`photos/${id}/export`, { ...body, overwrite: true });
  }
}

function describeExport(result) {
  const kb = Math.round(result.bytes / 1024);
  return `Saved ${result.output} (${result.width}x${result.height}, ${kb} kB)`
    + (result.mask ? `, strokes ${result.mask}` : "") + `, settings ${result.sidecar}.`;
}

async function exportCurrent() {
  if (!editor.current) return;
  await pump();
  status("Exporting at full size…");
  $("exported").textContent = "";
  try {
    const result = await exportPhoto(editor.current, $("export-name").value.trim());
    $("exported").textContent = describeExport(result);
    $("exported").dataset.output = result.output;
    showError(null);
  } catch (error) {
    showError(error);
  }
  status("");
}

async function applyToAll() {
  if (!editor.current) return;
  await pump();
  try {
    const state = await call("apply-all", { from: editor.current });
    for (const info of state.photos) remember(info);
    status(`Settings applied to ${state.photos.length} photos.`);
    showError(null);
  } catch (error) {
    showError(error);
  }
}

async function exportAll() {
  await pump();
  const lines = [];
  for (const [id, info] of editor.photos) {
    status(`Exporting ${info.name}…`);
    try {
      lines.push(describeExport(await exportPhoto(id, exportName(info))));
    } catch (error) {
      lines.push(`${info.name}: ${error.message}`);
    }
  }
  $("exported").textContent = lines.join(" ");
  status("");
}

async function start() {
  wireControls();
  await loadState().catch(showError);
  document.body.dataset.ready = "1";
}

start();
