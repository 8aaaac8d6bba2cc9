// mlplab playground: plain JS + canvas, no build step. The server owns the config schema,
// the limits and the training; this page edits a RunConfig, sends it over the WebSocket and
// paints the frames it gets back. Page state lives in the URL hash (a link reproduces it).
"use strict";

const $ = (id) => document.getElementById(id);
const LRS = [0.00001, 0.0001, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 3, 10];
const REG_RATES = [0, 0.0001, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 3, 10];
const NEG = [242, 142, 43], MID = [248, 249, 251], POS = [42, 122, 185];
const PALETTE = [[42, 122, 185], [242, 142, 43], [89, 161, 79], [225, 87, 89], [176, 122, 161],
  [118, 183, 178], [237, 201, 72], [156, 117, 95], [255, 157, 167], [186, 176, 172]];
// URL keys: short name -> dotted RunConfig path
const URL_KEYS = {ds: "data.source", n: "data.n_samples", noise: "data.noise",
  test: "data.test_size", seed: "seed", hidden: "model.hidden", act: "model.activation",
  loss: "loss", opt: "optim.name", lr: "optim.lr", l1: "optim.l1", l2: "optim.weight_decay",
  bs: "train.batch_size", classes: "data.n_classes"};

const S = { schema: null, cfg: null, ws: null, sid: null, data: null, frame: null,
  history: [], upload: null, uploadInfo: null, draw: null, dirty: false, playing: false,
  pendingSend: null, lastEpochDrawn: -1 };

// --- config helpers ---------------------------------------------------------------------
const clone = (o) => JSON.parse(JSON.stringify(o));
function getPath(o, path) { return path.split(".").reduce((a, k) => (a == null ? a : a[k]), o); }
function setPath(o, path, v) {
  const keys = path.split("."); let cur = o;
  for (const k of keys.slice(0, -1)) cur = cur[k] ??= {};
  cur[keys[keys.length - 1]] = v;
}
function activations() {
  const a = S.cfg.model.activation, n = S.cfg.model.hidden.length;
  return Array.isArray(a) ? a.slice(0, n).concat(Array(Math.max(0, n - a.length)).fill(a[a.length - 1] || "tanh")) : Array(n).fill(a);
}
function setActivations(list) {
  S.cfg.model.activation = list.length && list.every((x) => x === list[0]) ? list[0] :
    (list.length ? list : "tanh");
}

function readHash() {
  const out = {};
  const params = new URLSearchParams(location.hash.slice(1));
  for (const [k, path] of Object.entries(URL_KEYS)) {
    if (!params.has(k)) continue;
    let v = params.get(k);
    if (k === "hidden") v = v === "" ? [] : v.split(",").map(Number);
    else if (k === "act") v = v.includes(",") ? v.split(",") : v;
    else if (k === "bs") v = v === "full" ? "full" : Number(v);
    else if (!["ds", "loss", "opt"].includes(k)) v = v === "null" ? null : Number(v);
    out[path] = v;
  }
  return out;
}
function writeHash() {
  const p = new URLSearchParams();
  for (const [k, path] of Object.entries(URL_KEYS)) {
    const v = getPath(S.cfg, path);
    if (v === undefined || (v === null && k !== "noise")) continue;
    if (JSON.stringify(v) === JSON.stringify(getPath(S.schema.defaults, path))) continue;
    p.set(k, Array.isArray(v) ? v.join(",") : String(v));
  }
  history.replaceState(null, "", "#" + p.toString());
}

// --- server connection ------------------------------------------------------------------
function connect() {
  const proto = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${proto}://${location.host}/ws`);
  S.ws = ws;
  ws.onopen = () => { sendConfig(true); send({type: "units", on: $("show-units").checked}); };
  ws.onmessage = (ev) => handle(JSON.parse(ev.data));
  ws.onclose = () => { S.sid = null; setPlaying(false); banner("Disconnected from the server. Reload the page to reconnect."); };
}
function send(msg) { if (S.ws && S.ws.readyState === 1) S.ws.send(JSON.stringify(msg)); }
function sendConfig(now) {
  clearTimeout(S.pendingSend);
  const go = () => {
    writeHash();
    send({type: "config", config: S.cfg, upload: S.upload, draw: S.draw});
  };
  if (now) go(); else S.pendingSend = setTimeout(go, 120);
}
function handle(msg) {
  if (msg.type === "hello") S.sid = msg.session;
  else if (msg.type === "error") banner(msg.message);
  else if (msg.type === "data") onData(msg);
  else if (msg.type === "frame") { S.frame = msg; onFrame(msg); }
}

function banner(text) { $("banner-text").textContent = text; $("banner").hidden = !text; }

// --- controls ---------------------------------------------------------------------------
function fillSelect(el, values, labels) {
  el.innerHTML = "";
  values.forEach((v, i) => { const o = document.createElement("option");
    o.value = String(v); o.textContent = labels ? labels[i] : String(v); el.appendChild(o); });
}
function buildControls() {
  const ch = S.schema.choices, lim = S.schema.limits;
  const ds = Object.keys(ch.datasets);
  fillSelect($("dataset"), ds, ds.map((d) => `${d}  ·  ${ch.datasets[d].task}`));
  fillSelect($("lr"), LRS);
  fillSelect($("activation"), ch.activation);
  fillSelect($("optimizer"), ch.optimizer);
  fillSelect($("loss"), ch.loss);
  fillSelect($("reg"), ["none", "l1", "l2"], ["None", "L1", "L2"]);
  fillSelect($("reg-rate"), REG_RATES);
  $("samples").max = lim.max_samples;
  $("upload-cap").textContent = `${(lim.max_upload_bytes / 1e6).toFixed(1)} MB, ${lim.max_samples} rows`;

  $("dataset").onchange = (e) => {
    S.upload = null; S.draw = null; S.cfg.data.source = e.target.value;
    S.cfg.data.target = null; S.cfg.data.features = null; S.cfg.data.noise = null;
    S.cfg.data.n_classes = null; S.cfg.data.n_features = null; S.cfg.task = "auto";
    $("upload-controls").hidden = true; changed();
  };
  $("noise").oninput = (e) => { S.cfg.data.noise = Number(e.target.value); changed(); };
  $("samples").oninput = (e) => { S.cfg.data.n_samples = Number(e.target.value); changed(); };
  $("ratio").oninput = (e) => { S.cfg.data.test_size = Math.round(100 - Number(e.target.value)) / 100; changed(); };
  $("batch").oninput = (e) => { S.cfg.train.batch_size = Number(e.target.value); $("full-batch").checked = false; changed(); };
  $("full-batch").onchange = (e) => { S.cfg.train.batch_size = e.target.checked ? "full" : Number($("batch").value); changed(); };
  $("regenerate").onclick = () => send({type: "regenerate"});
  $("lr").onchange = (e) => { S.cfg.optim.lr = Number(e.target.value); writeHash();
    send({type: "set_lr", lr: S.cfg.optim.lr}); };
  $("activation").onchange = (e) => { S.cfg.model.activation = e.target.value; changed(); };
  $("optimizer").onchange = (e) => { S.cfg.optim.name = e.target.value; changed(); };
  $("loss").onchange = (e) => { S.cfg.loss = e.target.value; changed(); };
  $("reg").onchange = $("reg-rate").onchange = () => {
    const kind = $("reg").value, rate = Number($("reg-rate").value);
    S.cfg.optim.l1 = kind === "l1" ? rate : 0; S.cfg.optim.weight_decay = kind === "l2" ? rate : 0;
    changed();
  };
  $("add-layer").onclick = () => { const h = S.cfg.model.hidden;
    if (h.length < lim.max_layers) { const a = activations(); h.push(h.length ? h[h.length - 1] : 4);
      a.push(a.length ? a[a.length - 1] : "tanh"); setActivations(a); changed(); } };
  $("remove-layer").onclick = () => { const h = S.cfg.model.hidden;
    if (h.length) { const a = activations(); h.pop(); a.pop(); setActivations(a); changed(); } };
  $("play").onclick = () => { send({type: "play"}); setPlaying(true); };
  $("pause").onclick = () => { send({type: "pause"}); setPlaying(false); };
  $("step").onclick = () => { send({type: "step"}); setPlaying(false); };
  $("reset").onclick = () => send({type: "reset"});
  $("show-units").onchange = (e) => send({type: "units", on: e.target.checked});
  $("show-test").onchange = $("discretize").onchange = () => drawBoundary();
  $("banner-close").onclick = () => banner("");
  $("upload-file").onchange = (e) => e.target.files[0] && upload(e.target.files[0]);
  $("target").onchange = (e) => { S.cfg.data.target = e.target.value; S.cfg.task = "auto"; changed(); };
  $("draw-x").onchange = $("draw-y").onchange = () => {
    S.draw = [$("draw-x").value, $("draw-y").value].filter(Boolean); changed(); };
  for (const kind of ["script", "cli", "yaml"]) $(`export-${kind}`).onclick = () => exportText(kind);
  $("export-zip").onclick = () => download(`/api/sessions/${S.sid}/export/zip`);
  $("copy-link").onclick = () => navigator.clipboard?.writeText(location.href);
  $("code-copy").onclick = () => navigator.clipboard?.writeText($("code-text").textContent);
  document.addEventListener("keydown", (e) => {
    if (e.target.tagName === "INPUT" || e.target.tagName === "SELECT") return;
    if (e.key === " ") { e.preventDefault(); (S.playing ? $("pause") : $("play")).click(); }
    else if (e.key === "s") $("step").click();
    else if (e.key === "r") $("reset").click();
  });
}
function changed() { syncControls(); sendConfig(false); }
function setPlaying(on) { S.playing = on; $("play").hidden = on; $("pause").hidden = !on; }

function syncControls() {
  const c = S.cfg, ch = S.schema.choices;
  const src = S.upload ? "__upload" : c.data.source;
  if (S.upload && !$("dataset").querySelector('option[value="__upload"]')) {
    const o = document.createElement("option"); o.value = "__upload"; $("dataset").prepend(o);
  }
  const up = $("dataset").querySelector('option[value="__upload"]');
  if (up) { up.textContent = S.uploadInfo ? `uploaded · ${S.uploadInfo.filename}` : "uploaded"; up.hidden = !S.upload; }
  $("dataset").value = src;
  const info = ch.datasets[c.data.source];
  $("dataset-desc").textContent = S.upload ? `${S.uploadInfo.rows} rows from your file` : (info ? info.description : "");
  const synthetic = !S.upload && info && info.kind === "synthetic";
  $("synthetic-controls").hidden = !synthetic;
  const noise = c.data.noise ?? 0.1;
  $("noise").value = noise; $("noise-out").textContent = c.data.noise == null ? "default" : noise.toFixed(2);
  $("samples").value = c.data.n_samples; $("samples-out").textContent = c.data.n_samples;
  const train = Math.round((1 - c.data.test_size) * 100);
  $("ratio").value = train; $("ratio-out").textContent = `${train}%`;
  const full = c.train.batch_size === "full" || c.train.batch_size == null;
  $("full-batch").checked = full; if (!full && c.train.batch_size !== "auto") $("batch").value = c.train.batch_size;
  $("batch-out").textContent = full ? "full" : String(c.train.batch_size);
  $("lr").value = String(c.optim.lr);
  if ($("lr").value !== String(c.optim.lr)) { fillSelect($("lr"), [...new Set([...LRS, c.optim.lr])].sort((a, b) => a - b)); $("lr").value = String(c.optim.lr); }
  const acts = activations();
  $("activation").value = acts[0] || (Array.isArray(c.model.activation) ? c.model.activation[0] : c.model.activation);
  $("optimizer").value = c.optim.name; $("loss").value = c.loss;
  const reg = c.optim.l1 > 0 ? "l1" : c.optim.weight_decay > 0 ? "l2" : "none";
  $("reg").value = reg; $("reg-rate").value = String(reg === "l1" ? c.optim.l1 : reg === "l2" ? c.optim.weight_decay : 0);
  $("layer-count").textContent = c.model.hidden.length;
  buildLayerControls();
}

function buildLayerControls() {
  const box = $("layer-controls"), ch = S.schema.choices, lim = S.schema.limits;
  box.innerHTML = "";
  const acts = activations();
  S.cfg.model.hidden.forEach((h, i) => {
    const d = document.createElement("div"); d.className = "layer";
    d.innerHTML = `<div class="row"><button class="mini" data-d="-1">−</button>
      <span>${h} neurons</span><button class="mini" data-d="1">+</button></div>`;
    d.querySelectorAll("button").forEach((b) => b.onclick = () => {
      const v = h + Number(b.dataset.d);
      if (v >= 1 && v <= lim.max_neurons) { S.cfg.model.hidden[i] = v; changed(); } });
    const sel = document.createElement("select"); fillSelect(sel, ch.activation); sel.value = acts[i];
    sel.setAttribute("aria-label", `activation of layer ${i + 1}`);
    sel.onchange = () => { const a = activations(); a[i] = sel.value; setActivations(a); changed(); };
    d.appendChild(sel); box.appendChild(d);
  });
}

async function upload(file) {
  const form = new FormData(); form.append("file", file);
  const r = await fetch("/api/uploads", {method: "POST", body: form});
  const body = await r.json();
  if (!r.ok) { banner(body.error || "upload failed"); return; }
  banner("");
  S.upload = body.id; S.uploadInfo = body; S.draw = body.draw.length ? body.draw : null;
  S.cfg.data.target = body.target; S.cfg.data.features = null; S.cfg.task = "auto";
  fillSelect($("target"), body.columns.map((c) => c.name)); $("target").value = body.target;
  $("upload-controls").hidden = false;
  changed();
}

async function exportText(kind) {
  if (!S.sid) return;
  const r = await fetch(`/api/sessions/${S.sid}/export/${kind}`);
  const text = await r.text();
  if (!r.ok) { banner(JSON.parse(text).error || "export failed"); return; }
  const titles = {script: "Standalone PyTorch script", cli: "CLI command", yaml: "YAML config"};
  $("code-title").textContent = titles[kind];
  $("code-text").textContent = text;
  $("code-download").href = `/api/sessions/${S.sid}/export/${kind}`;
  $("code-dialog").showModal();
}
function download(url) { const a = document.createElement("a"); a.href = url; a.download = "";
  document.body.appendChild(a); a.click(); a.remove(); }

// --- data and frames --------------------------------------------------------------------
function onData(msg) {
  S.data = msg; S.history = []; S.frame = null; S.lastEpochDrawn = -1;
  const cfg = clone(msg.config);
  if (S.upload) cfg.data.source = S.cfg.data.source;  // keep the page's name for uploads
  S.cfg = cfg; syncControls(); writeHash();
  const feats = msg.inputs;
  fillSelect($("draw-x"), feats); fillSelect($("draw-y"), feats);
  $("draw-x").value = msg.draw[0] || ""; $("draw-y").value = msg.draw[1] || "";
  $("draw-controls").hidden = feats.length <= 2;
  $("axis-x").textContent = msg.draw[0] || "";
  $("axis-y").textContent = msg.draw.length > 1 ? msg.draw[1] : (msg.target[0] || "");
  $("score-label").textContent = msg.score_name === "r2" ? "Test R²" : "Test accuracy";
  $("confusion-wrap").hidden = !(msg.task === "binary" || msg.task === "multiclass");
  drawColorbar();
}

function fmt(v, d = 3) { return v == null ? "–" : Number(v).toFixed(d); }
function onFrame(f) {
  setPlaying(f.playing);
  $("epoch").textContent = String(f.epoch).padStart(6, "0").replace(/(\d{3})(\d{3})$/, "$1,$2");
  $("test-loss").textContent = fmt(f.test_loss);
  $("train-loss").textContent = fmt(f.train_loss);
  $("test-accuracy").textContent = fmt(f.test_score);
  const last = S.history[S.history.length - 1];
  if (!last || f.epoch > last.epoch) S.history.push({epoch: f.epoch, train: f.train_loss, test: f.test_loss});
  else if (f.epoch < last.epoch) S.history = [{epoch: f.epoch, train: f.train_loss, test: f.test_loss}];
  if (S.history.length > 1500) S.history = S.history.filter((_, i) => i % 2 === 0 || i === S.history.length - 1);
  requestAnimationFrame(paint);
}
function paint() {
  if (!S.frame || S.lastEpochDrawn === S.frame) return;
  S.lastEpochDrawn = S.frame;
  drawBoundary(); drawCurves(); drawNetwork(); drawMetrics();
}

function decode(b64) { const s = atob(b64); const a = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) a[i] = s.charCodeAt(i); return a; }
function mix(a, b, t) { return [0, 1, 2].map((i) => Math.round(a[i] + (b[i] - a[i]) * t)); }
function diverging(t) { return t < 0.5 ? mix(NEG, MID, t * 2) : mix(MID, POS, (t - 0.5) * 2); }
function sequential(t) { return mix([253, 231, 37], [68, 1, 84], 1 - t); }

function gridImage(grid, discretize) {
  const n = grid.n, img = new ImageData(n, n), px = img.data, d = decode(grid.data);
  for (let i = 0; i < n * n; i++) {
    let c;
    if (grid.kind === "binary") { let t = d[i] / 255; if (discretize) t = t >= 0.5 ? 1 : 0;
      c = mix(MID, diverging(t), 0.75); }
    else if (grid.kind === "multiclass") { const conf = discretize ? 1 : d[2 * i + 1] / 255;
      c = mix(MID, PALETTE[d[2 * i] % PALETTE.length], 0.2 + 0.6 * conf); }
    else c = sequential(d[i] / 255);
    px.set([c[0], c[1], c[2], 255], i * 4);
  }
  const off = document.createElement("canvas"); off.width = n; off.height = n;
  off.getContext("2d").putImageData(img, 0, 0);
  return off;
}

function pointColor(label) {
  const t = S.data.task;
  if (t === "regression") { const [lo, hi] = S.data.extent.length > 4 ? [S.data.extent[2], S.data.extent[3]] : valueRange();
    return sequential((label - lo) / ((hi - lo) || 1)); }
  if (t === "binary") return label >= 0.5 ? POS : NEG;
  return PALETTE[label % PALETTE.length];
}
function valueRange() { const g = S.frame && S.frame.grid; return g && g.vmin != null ? [g.vmin, g.vmax] : [0, 1]; }

function drawBoundary() {
  const cv = $("boundary"), ctx = cv.getContext("2d"), W = cv.width, H = cv.height;
  ctx.clearRect(0, 0, W, H);
  if (!S.data) return;
  const [x0, x1, y0, y1] = S.data.extent.length >= 4 ? S.data.extent : [0, 1, 0, 1];
  const X = (x) => (x - x0) / (x1 - x0) * W, Y = (y) => (1 - (y - y0) / (y1 - y0)) * H;
  const g = S.frame && S.frame.grid;
  if (g && g.kind !== "curve") { ctx.imageSmoothingEnabled = !$("discretize").checked;
    ctx.drawImage(gridImage(g, $("discretize").checked), 0, 0, W, H); }
  ctx.strokeStyle = "rgba(30,40,60,.08)"; ctx.lineWidth = 1;
  for (let i = 1; i < 6; i++) { ctx.beginPath(); ctx.moveTo(i * W / 6, 0); ctx.lineTo(i * W / 6, H);
    ctx.moveTo(0, i * H / 6); ctx.lineTo(W, i * H / 6); ctx.stroke(); }
  const splits = $("show-test").checked ? ["train", "test"] : ["train"];
  for (const split of splits) for (const [px, py, lab] of S.data.points[split]) {
    const c = pointColor(lab);
    ctx.beginPath(); ctx.arc(X(px), Y(py), split === "test" ? 3.6 : 3.2, 0, 7);
    ctx.fillStyle = `rgb(${c})`; ctx.fill();
    ctx.lineWidth = split === "test" ? 1.6 : 1; ctx.strokeStyle = split === "test" ? "#1d2333" : "#fff"; ctx.stroke();
  }
  if (g && g.kind === "curve") {
    ctx.beginPath(); ctx.lineWidth = 3; ctx.strokeStyle = "#2f6fed";
    g.values.forEach((v, i) => { const x = x0 + (i + 0.5) / g.n * (x1 - x0);
      i ? ctx.lineTo(X(x), Y(v)) : ctx.moveTo(X(x), Y(v)); });
    ctx.stroke();
  }
}

function drawColorbar() {
  const bar = $("colorbar"), t = S.data.task;
  let stops, labels;
  if (t === "binary") { stops = [0, .5, 1].map((v) => `rgb(${diverging(v)})`); labels = S.data.classes; }
  else if (t === "multiclass") { const k = S.data.classes.length;
    stops = S.data.classes.map((_, i) => `rgb(${PALETTE[i % PALETTE.length]}) ${i / k * 100}% ${(i + 1) / k * 100}%`);
    labels = S.data.classes; }
  else { stops = [0, .5, 1].map((v) => `rgb(${sequential(v)})`); labels = ["low", "high"]; }
  bar.style.background = `linear-gradient(90deg, ${stops.join(",")})`;
  bar.innerHTML = labels.length <= 12 ? labels.map((l, i) =>
    `<span style="left:${labels.length > 1 ? i / (labels.length - 1) * 92 : 0}%">${String(l).slice(0, 12)}</span>`).join("") : "";
  bar.style.marginBottom = "18px";
}

function drawCurves() {
  const cv = $("curves"), ctx = cv.getContext("2d"), W = cv.width, H = cv.height, h = S.history;
  ctx.clearRect(0, 0, W, H);
  if (h.length < 2) return;
  const vals = h.flatMap((r) => [r.train, r.test]).filter((v) => v != null);
  const hi = Math.max(...vals) * 1.05 || 1, e0 = h[0].epoch, e1 = h[h.length - 1].epoch || 1;
  for (const [key, color, w] of [["train", "#9aa3b8", 1.5], ["test", "#1d2333", 2]]) {
    ctx.beginPath(); ctx.strokeStyle = color; ctx.lineWidth = w;
    h.forEach((r, i) => { const x = (r.epoch - e0) / ((e1 - e0) || 1) * W, y = H - 2 - (r[key] / hi) * (H - 4);
      i ? ctx.lineTo(x, y) : ctx.moveTo(x, y); });
    ctx.stroke();
  }
}

function unitImage(b64, n) {
  const d = decode(b64), img = new ImageData(n, n);
  for (let i = 0; i < n * n; i++) img.data.set([...diverging(d[i] / 255), 255], i * 4);
  const off = document.createElement("canvas"); off.width = n; off.height = n;
  off.getContext("2d").putImageData(img, 0, 0); return off;
}

function drawNetwork() {
  const cv = $("network"), ctx = cv.getContext("2d"), W = cv.width, H = cv.height;
  ctx.clearRect(0, 0, W, H);
  if (!S.data || !S.frame) return;
  const sizes = S.data.layers, shown = sizes.map((s) => Math.min(s, 16));
  const L = sizes.length, node = Math.max(14, Math.min(34, (H - 20) / Math.max(...shown) - 8));
  const colX = (l) => 50 + l * (W - 100) / (L - 1);
  const pos = shown.map((n, l) => Array.from({length: n}, (_, j) =>
    [colX(l), H / 2 + (j - (n - 1) / 2) * (node + 8)]));
  const weights = S.frame.weights || [];
  let wmax = 0.5; weights.forEach((m) => m.forEach((r) => r.forEach((w) => { wmax = Math.max(wmax, Math.abs(w)); })));
  ctx.lineCap = "round";
  weights.forEach((m, l) => m.forEach((row, j) => row.forEach((w, i) => {
    if (i >= shown[l] || j >= shown[l + 1]) return;
    const [ax, ay] = pos[l][i], [bx, by] = pos[l + 1][j];
    ctx.strokeStyle = `rgba(${w < 0 ? NEG : POS},${0.25 + 0.75 * Math.min(1, Math.abs(w) / wmax)})`;
    ctx.lineWidth = 0.4 + 5 * Math.min(1, Math.abs(w) / wmax);
    ctx.beginPath(); ctx.moveTo(ax + node / 2, ay);
    ctx.bezierCurveTo((ax + bx) / 2, ay, (ax + bx) / 2, by, bx - node / 2, by); ctx.stroke();
  })));
  const units = S.frame.units || [];
  pos.forEach((col, l) => col.forEach(([x, y], j) => {
    ctx.fillStyle = "#fff"; ctx.strokeStyle = "#c7cedd"; ctx.lineWidth = 1;
    ctx.beginPath(); ctx.roundRect(x - node / 2, y - node / 2, node, node, 4); ctx.fill(); ctx.stroke();
    const grid = l > 0 && l < L - 1 && units[l - 1] && units[l - 1][j];
    if (grid) { ctx.imageSmoothingEnabled = true; ctx.drawImage(unitImage(grid, S.schema.limits.unit_grid), x - node / 2 + 1, y - node / 2 + 1, node - 2, node - 2); }
    else if (l === 0 && S.data.draw.includes(S.data.inputs[j])) {  // a drawn input: its axis
      const axis = S.data.draw.indexOf(S.data.inputs[j]), x0 = x - node / 2 + 1, y0 = y - node / 2 + 1;
      const gr = axis === 0 ? ctx.createLinearGradient(x0, 0, x0 + node - 2, 0) : ctx.createLinearGradient(0, y0 + node - 2, 0, y0);
      gr.addColorStop(0, `rgb(${NEG})`); gr.addColorStop(0.5, `rgb(${MID})`); gr.addColorStop(1, `rgb(${POS})`);
      ctx.fillStyle = gr; ctx.fillRect(x0, y0, node - 2, node - 2); }
    else if (l === L - 1 && S.frame.grid && S.frame.grid.kind !== "curve") {
      ctx.drawImage(gridImage(S.frame.grid, false), x - node / 2 + 1, y - node / 2 + 1, node - 2, node - 2); }
  }));
  ctx.fillStyle = "#6b7386"; ctx.font = "11px system-ui"; ctx.textAlign = "right";
  pos[0].forEach(([x, y], j) => ctx.fillText(String(S.data.inputs[j] || "").slice(0, 9), x - node / 2 - 4, y + 4));
  if (sizes[0] > shown[0]) ctx.fillText(`+${sizes[0] - shown[0]} more`, colX(0) + node / 2, H - 4);
  ctx.textAlign = "center";
  sizes.forEach((s, l) => ctx.fillText(l === 0 ? "inputs" : l === L - 1 ? "output" : `${s}`, colX(l), 12));
}

function drawMetrics() {
  const f = S.frame, d = S.data, rows = [["epoch", f.epoch], ["learning rate", f.lr],
    [`train ${d.score_name}`, fmt(f.train_score)], [`test ${d.score_name}`, fmt(f.test_score)],
    ["train loss", fmt(f.train_loss, 4)], ["test loss", fmt(f.test_loss, 4)],
    ["task", d.task], ["parameters", d.layers.slice(1).reduce((a, n, i) => a + n * (d.layers[i] + 1), 0)]];
  $("metric-rows").innerHTML = rows.map(([k, v]) => `<tr><td>${k}</td><td>${v}</td></tr>`).join("");
  const cm = f.confusion, tbl = $("confusion");
  if (!cm) { tbl.innerHTML = ""; return; }
  const mx = Math.max(1, ...cm.flat());
  const head = `<tr><th></th>${d.classes.map((c) => `<th>${String(c).slice(0, 8)}</th>`).join("")}</tr>`;
  tbl.innerHTML = head + cm.map((r, i) => `<tr><th>${String(d.classes[i]).slice(0, 8)}</th>${r.map((v, j) => {
    const a = v / mx, c = i === j ? "47,111,237" : "225,87,89";
    return `<td style="background:rgba(${c},${0.08 + 0.7 * a});color:${a > 0.55 ? "#fff" : "#1d2333"}">${v}</td>`; }).join("")}</tr>`).join("");
}

// --- start ------------------------------------------------------------------------------
async function main() {
  S.schema = await (await fetch("/api/schema")).json();
  S.cfg = clone(S.schema.defaults);
  for (const [path, v] of Object.entries(readHash())) setPath(S.cfg, path, v);
  buildControls(); syncControls(); setPlaying(false); connect();
}
main().catch((e) => banner(`Could not start: ${e}`));
