// mlplab playground: plain JS, no build step. The server owns the config schema, the limits,
// the texts (catalogs, ?lang=zh) and the training; this page edits a RunConfig, sends it over
// the WebSocket and paints the frames it gets back (draw.js). Page state lives in the URL
// hash, so a link reproduces the setup. Data is shown with textContent, never as HTML.
"use strict";

const $ = (id) => document.getElementById(id);
const LRS = [0.00001, 0.0001, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 3, 10];
const REG_RATES = [0, 0.0001, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 3, 10];
const LANG_NAMES = {en: "English", zh: "中文"};  // each language by its own name
// URL keys: short name -> dotted RunConfig path
const URL_KEYS = {ds: "data.source", n: "data.n_samples", noise: "data.noise",
  test: "data.test_size", seed: "seed", hidden: "model.hidden", act: "model.activation",
  x: "model.crosses", loss: "loss", opt: "optim.name", lr: "optim.lr", l1: "optim.l1",
  l2: "optim.weight_decay", bs: "train.batch_size", classes: "data.n_classes"};
const LIST_KEYS = ["hidden", "x"], TEXT_KEYS = ["ds", "loss", "opt"];
// URL keys for view toggles: key -> [checkbox id, default]
const VIEW_KEYS = {st: ["show-test", false], disc: ["discretize", false], units: ["show-units", true]};

const S = { schema: null, cfg: null, ws: null, sid: null, data: null, frame: null,
  history: [], upload: null, uploadInfo: null, draw: null, playing: false, texts: {},
  lang: "en", pendingSend: null, painted: null, regKind: "none", nodes: [], edges: [],
  hover: null, bannerKind: null };

// --- texts ------------------------------------------------------------------------------
function T(key, vars) {
  const text = S.texts[`playground.${key}`] ?? key;
  return vars ? text.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m)) : text;
}
async function loadTexts(lang) {
  const body = await (await fetch(`api/i18n/${encodeURIComponent(lang)}`)).json();
  S.texts = body.texts; S.lang = body.lang;
  document.documentElement.lang = body.html_lang;
  fillSelect($("lang"), body.languages, body.languages.map((l) => LANG_NAMES[l] || l));
  $("lang").value = S.lang;
  for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = T(el.dataset.i18n.slice(11));
  for (const el of document.querySelectorAll("[data-i18n-title]")) {
    const t = T(el.dataset.i18nTitle.slice(11)); el.title = t; el.setAttribute("aria-label", t); }
}
async function switchLanguage(lang) {
  const url = new URL(location.href);
  if (lang === "en") url.searchParams.delete("lang"); else url.searchParams.set("lang", lang);
  history.replaceState(null, "", url);
  await loadTexts(lang);
  refreshTexts();
}
function refreshTexts() {  // everything whose text is built from data and the catalog
  if (!S.schema) return;
  buildStaticLabels(); syncControls();
  if (S.data) { describeData(); drawColorbar(); }
  S.painted = null; paint();
}

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
function weightDecay() {  // what trains: the optimizer's default when the config says null
  const wd = S.cfg.optim.weight_decay;
  if (wd != null) return wd;
  // the server's resolved default for this data (per step), once it has prepared this optimizer
  if (S.data && S.data.config && S.data.config.optim.name === S.cfg.optim.name &&
      S.data.weight_decay != null) return S.data.weight_decay;
  return S.schema.choices.default_weight_decay[S.cfg.optim.name] || 0;
}

// --- the link ---------------------------------------------------------------------------
function parseHashValue(k, v) {
  if (LIST_KEYS.includes(k)) return v === "" ? [] : k === "hidden" ? v.split(",").map(Number) : v.split(",");
  if (k === "act") return v.includes(",") ? v.split(",") : v;
  if (k === "bs") return v === "full" ? "full" : Number(v);
  if (TEXT_KEYS.includes(k)) return v;
  return v === "null" ? null : Number(v);
}
function readHash() {
  const params = new URLSearchParams(location.hash.slice(1)), out = {};
  for (const [k, path] of Object.entries(URL_KEYS)) if (params.has(k)) out[k] = [path, parseHashValue(k, params.get(k))];
  for (const [k, [id]] of Object.entries(VIEW_KEYS)) if (params.has(k)) $(id).checked = params.get(k) === "1";
  return out;
}
function writeHash() {
  const p = new URLSearchParams();
  for (const [k, path] of Object.entries(URL_KEYS)) {
    const v = getPath(S.cfg, path);
    if (v === undefined || (v === null && k !== "noise") || (k === "ds" && S.upload)) continue;
    if (JSON.stringify(v) === JSON.stringify(getPath(S.schema.defaults, path))) continue;
    p.set(k, Array.isArray(v) ? v.join(",") : String(v));
  }
  for (const [k, [id, dflt]] of Object.entries(VIEW_KEYS)) if ($(id).checked !== dflt) p.set(k, $(id).checked ? "1" : "0");
  history.replaceState(null, "", location.pathname + location.search + "#" + p.toString());
}
async function validate(cfg) {
  const r = await fetch("api/validate", {method: "POST", headers: {"content-type": "application/json"},
    body: JSON.stringify({config: cfg})});
  return r.ok ? null : ((await r.json()).error || "invalid");
}
// The link's settings on top of the defaults; a setting the server refuses falls back to its
// default, and the page says which one and why.
async function configFromLink() {
  const entries = readHash(), cfg = clone(S.schema.defaults);
  for (const [path, v] of Object.values(entries)) setPath(cfg, path, v);
  if (!Object.keys(entries).length || !(await validate(cfg))) return cfg;
  const good = clone(S.schema.defaults), bad = [];
  let message = "";
  for (const [k, [path, v]] of Object.entries(entries)) {
    const trial = clone(good); setPath(trial, path, v);
    const err = await validate(trial);
    if (err) { bad.push(`${k}=${JSON.stringify(v)}`); message = message || err; } else setPath(good, path, v);
  }
  banner(T("bad_link", {keys: bad.join(", "), message: message.endsWith(".") ? message : message + "."}), "link");
  return good;
}

// --- server connection ------------------------------------------------------------------
function connect() {
  const url = new URL("ws", location.href);
  url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
  url.hash = "";
  const ws = new WebSocket(url);
  S.ws = ws;
  ws.onopen = () => { send({type: "units", on: $("show-units").checked}); sendConfig(true); };
  ws.onmessage = (ev) => handle(JSON.parse(ev.data));
  ws.onclose = () => { S.sid = null; setPlaying(false); if (S.bannerKind !== "busy") banner(T("disconnected"), "fatal"); };
}
function send(msg) { if (S.ws && S.ws.readyState === 1) S.ws.send(JSON.stringify(msg)); }
function sendConfig(now) {
  clearTimeout(S.pendingSend);
  const go = () => { S.pendingSend = null; writeHash();
    send({type: "config", config: S.cfg, upload: S.upload, draw: S.draw}); };
  if (now) go(); else S.pendingSend = setTimeout(go, 120);
}
const HANDLERS = {
  hello: (m) => { S.sid = m.session; },
  error: (m) => banner(m.busy ? `${T("busy_full")} (${m.message})` : m.message, m.busy ? "busy" : "error"),
  warning: (m) => notice(m.messages.map((t) => T("warning", {message: t})).join(" ")),
  busy: (m) => notice(m.ahead > 0 ? T("busy_slots", {ahead: m.ahead}) : ""),
  end: (m) => { setPlaying(false); notice(T("end", {cap: m.cap.toLocaleString()})); },
  data: (m) => onData(m),
  frame: (m) => { S.frame = m; onFrame(m); },
};
function handle(msg) { (HANDLERS[msg.type] || (() => {}))(msg); }

function banner(text, kind = "error") {
  $("banner-text").textContent = text; $("banner").hidden = !text; S.bannerKind = text ? kind : null;
}
function notice(text) { $("notice-text").textContent = text; $("notice").hidden = !text; }

// --- controls ---------------------------------------------------------------------------
function fillSelect(el, values, labels) {
  el.replaceChildren(...values.map((v, i) => { const o = document.createElement("option");
    o.value = String(v); o.textContent = labels ? labels[i] : String(v); return o; }));
}
function buildStaticLabels() {
  const lim = S.schema.limits, ds = Object.keys(S.schema.choices.datasets), keep = $("dataset").value;
  fillSelect($("dataset"), ds, ds.map((d) => `${d}  ·  ${S.schema.choices.datasets[d].task}`));
  if (keep) $("dataset").value = keep;
  fillSelect($("reg"), ["none", "l1", "l2"], [T("reg_none"), "L1", "L2"]);
  $("upload-hint").textContent = T("upload_hint", {size: `${(lim.max_upload_bytes / 1e6).toFixed(1)} MB`, rows: lim.max_samples});
  $("cap-note").textContent = T("cap_note", {cap: S.schema.defaults.train.epochs.toLocaleString()});
}
function buildControls() {
  const ch = S.schema.choices, lim = S.schema.limits;
  buildStaticLabels();
  fillSelect($("lr"), LRS); fillSelect($("activation"), ch.activation);
  fillSelect($("optimizer"), ch.optimizer); fillSelect($("loss"), ch.loss);
  fillSelect($("reg-rate"), REG_RATES);
  $("samples").max = lim.max_samples;
  $("cross-boxes").replaceChildren(...Object.keys(ch.crosses).map((name) => {
    const label = document.createElement("label"), box = document.createElement("input");
    label.className = "check chip"; box.type = "checkbox"; box.value = name; box.id = `cross-${name}`;
    box.onchange = () => { const on = [...document.querySelectorAll("#cross-boxes input:checked")].map((b) => b.value);
      S.cfg.model.crosses = Object.keys(ch.crosses).filter((c) => on.includes(c)); changed(); };
    label.append(box, ` ${inputLabel(name)}`); return label; }));

  $("dataset").onchange = (e) => {
    if (e.target.value === "__upload") return;
    S.upload = null; S.draw = null; S.cfg.data.source = e.target.value;
    S.cfg.data.target = null; S.cfg.data.features = null; S.cfg.data.noise = null;
    S.cfg.data.n_classes = null; S.cfg.data.n_features = null; S.cfg.task = "auto";
    $("upload-controls").hidden = true; changed();
  };
  $("noise").oninput = (e) => { S.cfg.data.noise = Number(e.target.value); changed(); };
  $("samples").oninput = (e) => { S.cfg.data.n_samples = Number(e.target.value); changed(); };
  $("ratio").oninput = (e) => { S.cfg.data.test_size = Math.round(100 - Number(e.target.value)) / 100; changed(); };
  $("batch").oninput = (e) => { S.cfg.train.batch_size = Number(e.target.value); changed(); };
  $("full-batch").onchange = (e) => { S.cfg.train.batch_size = e.target.checked ? "full" : Number($("batch").value); changed(); };
  $("regenerate").onclick = () => send({type: "regenerate"});
  $("lr").onchange = (e) => { S.cfg.optim.lr = Number(e.target.value); writeHash(); send({type: "set_lr", lr: S.cfg.optim.lr}); };
  $("activation").onchange = (e) => { S.cfg.model.activation = e.target.value; changed(); };
  $("optimizer").onchange = (e) => { S.cfg.optim.name = e.target.value; changed(); };
  $("loss").onchange = (e) => { S.cfg.loss = e.target.value; changed(); };
  $("reg").onchange = (e) => { const rate = Number($("reg-rate").value);
    setRegularization(e.target.value, e.target.value === "none" ? 0 : rate || 0.001); };
  $("reg-rate").onchange = (e) => { const rate = Number(e.target.value);
    setRegularization(rate === 0 ? "none" : S.regKind === "none" ? "l2" : S.regKind, rate); };
  $("add-layer").onclick = () => { const h = S.cfg.model.hidden;
    if (h.length < lim.max_layers) { const a = activations(); h.push(h.length ? h[h.length - 1] : 4);
      a.push(a.length ? a[a.length - 1] : "tanh"); setActivations(a); changed(); } };
  $("remove-layer").onclick = () => { const h = S.cfg.model.hidden;
    if (h.length) { const a = activations(); h.pop(); a.pop(); setActivations(a); changed(); } };
  $("play").onclick = () => { if (S.frame && S.frame.done) { send({type: "play"}); return; }
    send({type: "play"}); setPlaying(true); };
  $("pause").onclick = () => { send({type: "pause"}); setPlaying(false); };
  $("step").onclick = () => { send({type: "step"}); setPlaying(false); };
  $("reset").onclick = () => { notice(""); send({type: "reset"}); };
  $("show-units").onchange = (e) => { writeHash(); send({type: "units", on: e.target.checked}); };
  $("show-test").onchange = $("discretize").onchange = () => { writeHash(); drawBoundary(); };
  $("banner-close").onclick = () => banner("");
  $("lang").onchange = (e) => switchLanguage(e.target.value);
  $("upload-file").onchange = (e) => e.target.files[0] && upload(e.target.files[0]);
  $("target").onchange = (e) => { S.cfg.data.target = e.target.value; S.cfg.task = "auto"; changed(); };
  $("draw-x").onchange = $("draw-y").onchange = () => {
    S.draw = [$("draw-x").value, $("draw-y").value].filter(Boolean); sendConfig(true); };
  for (const kind of ["script", "cli", "yaml"]) $(`export-${kind}`).onclick = () => exportText(kind);
  $("export-zip").onclick = exportZip;
  $("copy-link").onclick = copyLink;
  $("code-copy").onclick = () => copy($("code-text").textContent, $("code-copy"));
  $("network").onmousemove = onNetworkHover;
  $("network").onmouseleave = () => { S.hover = null; $("hover").hidden = true; };
  document.addEventListener("keydown", onKey);
}
function onKey(e) {  // shortcuts only when no control has the focus (Space/Enter press buttons)
  const t = e.target;
  if (e.ctrlKey || e.metaKey || e.altKey || $("code-dialog").open) return;
  if (t !== document.body && t !== document.documentElement) return;
  if (e.key === " ") { e.preventDefault(); (S.playing ? $("pause") : $("play")).click(); }
  else if (e.key === "s") $("step").click();
  else if (e.key === "r") $("reset").click();
}
function setRegularization(kind, rate) {
  S.regKind = kind;
  S.cfg.optim.l1 = kind === "l1" ? rate : 0;
  S.cfg.optim.weight_decay = kind === "l2" ? rate : 0;
  changed();
}
function changed() { if (S.bannerKind === "link" || S.bannerKind === "error") banner(""); syncControls(); sendConfig(false); }
function setPlaying(on) {
  S.playing = on;
  const had = document.activeElement === $("play") || document.activeElement === $("pause");
  $("play").hidden = on; $("pause").hidden = !on;
  if (had) (on ? $("pause") : $("play")).focus();  // keyboard users keep their place
}
function selectValue(el, values, v) {  // show v even when it is not one of the usual choices
  if (![...el.options].some((o) => o.value === String(v))) fillSelect(el, [...new Set([...values, v])].sort((a, b) => a - b));
  el.value = String(v);
}

function syncControls() {
  const c = S.cfg, ch = S.schema.choices;
  let up = $("dataset").querySelector('option[value="__upload"]');
  if (S.upload && !up) { up = document.createElement("option"); up.value = "__upload"; $("dataset").prepend(up); }
  if (up) { up.textContent = S.uploadInfo ? T("uploaded", {name: S.uploadInfo.filename}) : T("uploaded_option"); up.hidden = !S.upload; }
  $("dataset").value = S.upload ? "__upload" : c.data.source;
  const info = ch.datasets[c.data.source];
  $("dataset-desc").textContent = S.upload ? T("rows_from_file", {rows: S.uploadInfo.rows}) :
    (info ? (S.texts[`playground.ds.${c.data.source}`] || info.description) : "");
  $("synthetic-controls").hidden = !(!S.upload && info && info.kind === "synthetic");
  const noise = c.data.noise ?? 0.1;
  $("noise").value = noise; $("noise-out").textContent = c.data.noise == null ? T("default") : noise.toFixed(2);
  $("samples").value = c.data.n_samples; $("samples-out").textContent = c.data.n_samples;
  const train = Math.round((1 - c.data.test_size) * 100);
  $("ratio").value = train; $("ratio-out").textContent = `${train}%`;
  const full = c.train.batch_size === "full" || c.train.batch_size == null;
  $("full-batch").checked = full; if (!full && c.train.batch_size !== "auto") $("batch").value = c.train.batch_size;
  $("batch-out").textContent = full ? T("full") : String(c.train.batch_size);
  selectValue($("lr"), LRS, c.optim.lr);
  $("activation").value = activations()[0] || (Array.isArray(c.model.activation) ? c.model.activation[0] : c.model.activation);
  $("optimizer").value = c.optim.name; $("loss").value = c.loss;
  const wd = weightDecay();
  if (c.optim.l1 > 0) S.regKind = "l1"; else if (wd > 0) S.regKind = "l2"; else if (S.regKind !== "none" && c.optim.l1 === 0 && wd === 0) S.regKind = "none";
  $("reg").value = S.regKind;
  selectValue($("reg-rate"), REG_RATES, S.regKind === "l1" ? c.optim.l1 : S.regKind === "l2" ? wd : 0);
  const nInputs = S.data ? S.data.layers[0] - S.data.crosses.length : 2;
  for (const box of document.querySelectorAll("#cross-boxes input")) {
    box.checked = (c.model.crosses || []).includes(box.value);
    box.disabled = ch.crosses[box.value] > nInputs && !box.checked;
  }
  $("layer-count").textContent = T("hidden_layers", {n: c.model.hidden.length});
  buildLayerControls();
}

function buildLayerControls() {
  const box = $("layer-controls"), ch = S.schema.choices, lim = S.schema.limits;
  const focused = document.activeElement && box.contains(document.activeElement) ? document.activeElement.dataset.key : null;
  const acts = activations(), hidden = S.cfg.model.hidden;
  box.style.gridTemplateColumns = `repeat(${hidden.length + 2}, minmax(0, 1fr))`;  // + inputs, output
  const cells = [document.createElement("div")];
  hidden.forEach((h, i) => {
    const d = document.createElement("div"); d.className = "layer";
    const row = document.createElement("div"); row.className = "row";
    const minus = button("−", T("remove_neuron", {i: i + 1}), `minus-${i}`, () => h > 1 && setWidth(i, h - 1));
    const plus = button("+", T("add_neuron", {i: i + 1}), `plus-${i}`, () => h < lim.max_neurons && setWidth(i, h + 1));
    const count = document.createElement("span"); count.textContent = String(h); count.title = T("neurons", {n: h});
    row.append(minus, count, plus);
    const sel = document.createElement("select"); fillSelect(sel, ch.activation); sel.value = acts[i];
    sel.dataset.key = `act-${i}`; sel.setAttribute("aria-label", T("layer_activation", {i: i + 1}));
    sel.onchange = () => { const a = activations(); a[i] = sel.value; setActivations(a); changed(); };
    d.append(row, sel); cells.push(d);
  });
  cells.push(document.createElement("div"));
  box.replaceChildren(...cells);
  if (focused) { const el = box.querySelector(`[data-key="${focused}"]`); if (el) el.focus(); }
}
function button(text, label, key, onclick) {
  const b = document.createElement("button"); b.className = "mini"; b.textContent = text;
  b.title = label; b.setAttribute("aria-label", label); b.dataset.key = key; b.onclick = onclick; return b;
}
function setWidth(i, v) { S.cfg.model.hidden[i] = v; changed(); }

async function upload(file) {
  const form = new FormData(); form.append("file", file);
  const r = await fetch("api/uploads", {method: "POST", body: form});
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
  const r = await fetch(`api/sessions/${S.sid}/export/${kind}`);
  const text = await r.text();
  if (!r.ok) { banner(JSON.parse(text).error || "export failed"); return; }
  $("code-title").textContent = T(`title_${kind}`);
  $("code-text").textContent = text;
  $("code-download").href = `api/sessions/${S.sid}/export/${kind}`;
  $("code-dialog").showModal();
}
async function exportZip() {
  if (!S.sid) return;
  if (!S.frame || S.frame.epoch === 0) { notice(T("not_trained")); return; }
  const r = await fetch(`api/sessions/${S.sid}/export/zip`);
  if (!r.ok) { banner((await r.json()).error || "export failed"); return; }
  const name = (r.headers.get("content-disposition") || "").match(/filename="([^"]+)"/);
  const a = document.createElement("a"); a.href = URL.createObjectURL(await r.blob());
  a.download = name ? name[1] : "run.zip"; document.body.append(a); a.click(); a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10000);
}
async function copy(text, btn) {
  let ok = false;
  try { await navigator.clipboard.writeText(text); ok = true; } catch (e) {
    const ta = document.createElement("textarea"); ta.value = text; document.body.append(ta); ta.select();
    try { ok = document.execCommand("copy"); } catch (e2) { ok = false; }
    ta.remove();
  }
  if (btn) { const was = btn.textContent; btn.textContent = ok ? T("copied") : was; btn.classList.toggle("done", ok);
    setTimeout(() => { btn.textContent = T(btn.dataset.i18n.slice(11)); btn.classList.remove("done"); }, 1500); }
  if (!ok) notice(T("copy_failed"));
  return ok;
}
async function copyLink() {
  const ok = await copy(location.href, $("copy-link"));
  if (ok) notice(S.upload ? T("upload_link", {dataset: S.schema.defaults.data.source}) : T("link_copied"));
}

// --- data and frames --------------------------------------------------------------------
function onData(msg) {
  const fresh = msg.fresh !== false;
  S.data = msg; S.frame = null; S.painted = null;
  if (fresh) { S.history = []; notice(""); }
  if (S.bannerKind === "error") banner("");
  const cfg = clone(msg.config);
  if (S.upload) cfg.data.source = S.cfg.data.source;  // keep the page's name for uploads
  if (S.pendingSend === null) S.cfg = cfg;  // else newer edits are about to be sent: keep them
  syncControls(); writeHash();
  const feats = msg.inputs.slice(0, msg.inputs.length - msg.crosses.length);
  fillSelect($("draw-x"), feats); fillSelect($("draw-y"), feats);
  $("draw-x").value = msg.draw[0] || ""; $("draw-y").value = msg.draw[1] || "";
  $("draw-controls").hidden = feats.length <= 2;
  describeData(); drawColorbar();
}
function describeData() {
  const d = S.data;
  $("axis-x").textContent = d.draw[0] || "";
  $("axis-y").textContent = d.draw.length > 1 ? d.draw[1] : (d.target[0] || "");
  $("score-label").textContent = d.score_name === "r2" ? T("test_r2") : T("test_accuracy");
  $("confusion-wrap").hidden = !(d.task === "binary" || d.task === "multiclass");
}

function fmt(v, d = 3) { return v == null ? "–" : Number(v).toFixed(d); }
function onFrame(f) {
  setPlaying(f.playing);
  $("epoch").textContent = String(f.epoch).padStart(6, "0").replace(/(\d{3})(\d{3})$/, "$1,$2");
  $("test-loss").textContent = fmt(f.test_loss);
  $("train-loss").textContent = fmt(f.train_loss);
  $("test-accuracy").textContent = fmt(f.test_score);
  const last = S.history[S.history.length - 1], row = {epoch: f.epoch, train: f.train_loss, test: f.test_loss};
  if (!last || f.epoch > last.epoch) S.history.push(row);
  else if (f.epoch < last.epoch) S.history = [row];
  if (S.history.length > 1500) S.history = S.history.filter((_, i) => i % 2 === 0 || i === S.history.length - 1);
  requestAnimationFrame(paint);
}

function cell(tag, text) { const c = document.createElement(tag); c.textContent = text; return c; }
function drawMetrics() {
  const f = S.frame, d = S.data, score = T(`score_${d.score_name}`);
  const rows = [[T("m_epoch"), f.epoch], [T("m_lr"), f.lr],
    [T("m_train_score", {score}), fmt(f.train_score)], [T("m_test_score", {score}), fmt(f.test_score)],
    [T("m_train_loss"), fmt(f.train_loss, 4)], [T("m_test_loss"), fmt(f.test_loss, 4)],
    [T("m_task"), d.task], [T("m_parameters"), d.layers.slice(1).reduce((a, n, i) => a + n * (d.layers[i] + 1), 0)]];
  $("metric-rows").replaceChildren(...rows.map(([k, v]) => { const tr = document.createElement("tr");
    tr.append(cell("td", k), cell("td", String(v))); return tr; }));
  const cm = f.confusion, tbl = $("confusion");
  if (!cm) { tbl.replaceChildren(); return; }
  const mx = Math.max(1, ...cm.flat()), label = (c) => { const th = cell("th", String(c)); th.title = String(c); return th; };
  const head = document.createElement("tr"); head.append(cell("th", ""), ...d.classes.map(label));
  tbl.replaceChildren(head, ...cm.map((r, i) => {
    const tr = document.createElement("tr"); tr.append(label(d.classes[i]));
    r.forEach((v, j) => { const td = cell("td", String(v)), a = v / mx, c = i === j ? "47,111,237" : "225,87,89";
      td.style.background = `rgba(${c},${0.08 + 0.7 * a})`; td.style.color = a > 0.55 ? "#fff" : "#1d2333"; tr.append(td); });
    return tr; }));
}

// --- start ------------------------------------------------------------------------------
async function main() {
  const lang = new URLSearchParams(location.search).get("lang") || "en";
  await loadTexts(lang);
  S.schema = await (await fetch("api/schema")).json();
  S.cfg = clone(S.schema.defaults);
  buildControls(); syncControls(); setPlaying(false);
  S.cfg = await configFromLink();
  syncControls(); connect();
}
main().catch((e) => banner(T("could_not_start", {error: e})));
