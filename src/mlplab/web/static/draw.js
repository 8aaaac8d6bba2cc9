// mlplab playground: everything painted on a canvas (boundary, curves, network, hover views).
// Reads the shared state S and the translation function T defined in app.js. Text that comes
// from data (class labels, column names) is only ever drawn on a canvas or set as textContent.
"use strict";

const NEG = [242, 142, 43], MID = [248, 249, 251], POS = [42, 122, 185];
const PALETTE = [[42, 122, 185], [242, 142, 43], [89, 161, 79], [225, 87, 89], [176, 122, 161],
  [118, 183, 178], [237, 201, 72], [156, 117, 95], [255, 157, 167], [186, 176, 172]];
const CROSS_LABELS = {"x1^2": "x₁²", "x2^2": "x₂²", "x1*x2": "x₁x₂", "sin(x1)": "sin x₁",
  "sin(x2)": "sin x₂"};
const MAX_SHOWN = 16;  // neurons drawn per layer

function decode(b64) { const s = atob(b64); const a = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) a[i] = s.charCodeAt(i); return a; }
function mix(a, b, t) { return [0, 1, 2].map((i) => Math.round(a[i] + (b[i] - a[i]) * t)); }
function diverging(t) { return t < 0.5 ? mix(NEG, MID, t * 2) : mix(MID, POS, (t - 0.5) * 2); }
function sequential(t) { return mix([253, 231, 37], [68, 1, 84], 1 - t); }
function inputLabel(name) { return CROSS_LABELS[name] || name; }

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
  return toCanvas(img);
}
function unitImage(b64) {
  const d = decode(b64), n = Math.round(Math.sqrt(d.length)), img = new ImageData(n, n);
  for (let i = 0; i < n * n; i++) img.data.set([...diverging(d[i] / 255), 255], i * 4);
  return toCanvas(img);
}
function toCanvas(img) {
  const off = document.createElement("canvas"); off.width = img.width; off.height = img.height;
  off.getContext("2d").putImageData(img, 0, 0); return off;
}

function valueRange() { return S.data.value_range || [0, 1]; }
function pointColor(label) {
  const t = S.data.task;
  if (t === "regression") { const [lo, hi] = valueRange(); return sequential((label - lo) / ((hi - lo) || 1)); }
  if (t === "binary") return label >= 0.5 ? POS : NEG;
  return PALETTE[label % PALETTE.length];
}

// the scatter points of the shown splits on a canvas of size W x H
function drawPoints(ctx, W, H, radius) {
  const [x0, x1, y0, y1] = S.data.extent.length >= 4 ? S.data.extent : [0, 1, 0, 1];
  const X = (x) => (x - x0) / (x1 - x0) * W, Y = (y) => (1 - (y - y0) / (y1 - y0)) * H;
  const splits = $("show-test").checked ? ["train", "test"] : ["train"];
  for (const split of splits) for (const [px, py, lab] of S.data.points[split]) {
    ctx.beginPath(); ctx.arc(X(px), Y(py), split === "test" ? radius * 1.12 : radius, 0, 7);
    ctx.fillStyle = `rgb(${pointColor(lab)})`; ctx.fill();
    ctx.lineWidth = split === "test" ? 1.6 : 1; ctx.strokeStyle = split === "test" ? "#1d2333" : "#fff";
    ctx.stroke();
  }
  return [X, Y, x0, x1];
}

function drawBoundary() {
  const cv = $("boundary"), ctx = cv.getContext("2d"), W = cv.width, H = cv.height;
  ctx.clearRect(0, 0, W, H);
  if (!S.data) return;
  const g = S.frame && S.frame.grid;
  if (g && g.kind !== "curve") { ctx.imageSmoothingEnabled = !$("discretize").checked;
    ctx.drawImage(gridImage(g, $("discretize").checked), 0, 0, W, H); }
  ctx.strokeStyle = "rgba(30,40,60,.08)"; ctx.lineWidth = 1;
  for (let i = 1; i < 6; i++) { ctx.beginPath(); ctx.moveTo(i * W / 6, 0); ctx.lineTo(i * W / 6, H);
    ctx.moveTo(0, i * H / 6); ctx.lineTo(W, i * H / 6); ctx.stroke(); }
  const [X, Y, x0, x1] = drawPoints(ctx, W, H, 3.2);
  if (g && g.kind === "curve") {
    ctx.beginPath(); ctx.lineWidth = 3; ctx.strokeStyle = "#2f6fed";
    g.values.forEach((v, i) => { const x = x0 + (i + 0.5) / g.n * (x1 - x0);
      i ? ctx.lineTo(X(x), Y(v)) : ctx.moveTo(X(x), Y(v)); });
    ctx.stroke();
  }
}

function drawColorbar() {
  const bar = $("colorbar"), box = $("colorbar-labels"), t = S.data.task;
  let stops, labels;
  if (t === "binary") { stops = [0, .5, 1].map((v) => `rgb(${diverging(v)})`); labels = S.data.classes; }
  else if (t === "multiclass") { const k = S.data.classes.length;
    stops = S.data.classes.map((_, i) => `rgb(${PALETTE[i % PALETTE.length]}) ${i / k * 100}% ${(i + 1) / k * 100}%`);
    labels = S.data.classes; }
  else { stops = [0, .5, 1].map((v) => `rgb(${sequential(v)})`); labels = [T("low"), T("high")]; }
  bar.style.background = `linear-gradient(90deg, ${stops.join(",")})`;
  box.replaceChildren(...labels.map((l) => { const s = document.createElement("span");
    s.textContent = String(l); s.title = String(l); return s; }));
  box.classList.toggle("spread", t !== "multiclass");
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

// --- the network diagram and what hovering it shows ---------------------------------------
function layout() {
  const cv = $("network"), W = cv.width, H = cv.height;
  const sizes = S.data.layers, shown = sizes.map((s) => Math.min(s, MAX_SHOWN)), L = sizes.length;
  const node = Math.max(14, Math.min(34, (H - 36) / Math.max(...shown) - 8));
  const colX = (l) => (l + 0.5) * W / L;  // the same columns as the layer controls above
  const pos = shown.map((n, l) => Array.from({length: n}, (_, j) =>
    [colX(l), 20 + (H - 20) / 2 + (j - (n - 1) / 2) * (node + 8)]));
  return {W, H, sizes, shown, L, node, colX, pos};
}

function nodeImage(l, j) {  // what a node shows: an input, a hidden unit or the output
  const f = S.frame, last = S.data.layers.length - 1;
  if (l === 0) { const g = f.inputs && f.inputs[j]; return g ? unitImage(g) : null; }
  if (l === last) return f.grid && f.grid.kind !== "curve" ? gridImage(f.grid, false) : null;
  const g = f.units && f.units[l - 1] && f.units[l - 1][j];
  return g ? unitImage(g) : null;
}

function drawNetwork() {
  const cv = $("network"), ctx = cv.getContext("2d");
  ctx.clearRect(0, 0, cv.width, cv.height);
  S.edges = []; S.nodes = [];
  if (!S.data || !S.frame) return;
  const {W, H, sizes, shown, L, node, colX, pos} = layout();
  const weights = S.frame.weights || [];
  let wmax = 0.5; weights.forEach((m) => m.forEach((r) => r.forEach((w) => { wmax = Math.max(wmax, Math.abs(w)); })));
  ctx.lineCap = "round";
  weights.forEach((m, l) => m.forEach((row, j) => row.forEach((w, i) => {
    if (i >= shown[l] || j >= shown[l + 1]) return;
    const [ax, ay] = pos[l][i], [bx, by] = pos[l + 1][j];
    const a = [ax + node / 2, ay], b = [bx - node / 2, by], mx = (ax + bx) / 2;
    ctx.strokeStyle = `rgba(${w < 0 ? NEG : POS},${0.25 + 0.75 * Math.min(1, Math.abs(w) / wmax)})`;
    ctx.lineWidth = 0.4 + 5 * Math.min(1, Math.abs(w) / wmax);
    ctx.beginPath(); ctx.moveTo(...a); ctx.bezierCurveTo(mx, ay, mx, by, ...b); ctx.stroke();
    S.edges.push({a, b, mx, w, l, i, j});
  })));
  pos.forEach((col, l) => col.forEach(([x, y], j) => {
    ctx.fillStyle = "#fff"; ctx.strokeStyle = l === 0 && j >= sizes[0] - S.data.crosses.length ? "#8fb3ff" : "#c7cedd";
    ctx.lineWidth = 1;
    ctx.beginPath(); ctx.roundRect(x - node / 2, y - node / 2, node, node, 4); ctx.fill(); ctx.stroke();
    const img = nodeImage(l, j);
    if (img) { ctx.imageSmoothingEnabled = true; ctx.drawImage(img, x - node / 2 + 1, y - node / 2 + 1, node - 2, node - 2); }
    S.nodes.push({x, y, node, l, j});
  }));
  ctx.fillStyle = "#6b7386"; ctx.font = '11px system-ui, sans-serif, "mlplab CJK"'; ctx.textAlign = "right";
  const room = colX(0) - node / 2 - 6;
  pos[0].forEach(([x, y], j) => ctx.fillText(fit(ctx, inputLabel(S.data.inputs[j] || ""), room), x - node / 2 - 4, y + 4));
  ctx.textAlign = "center";
  if (sizes[0] > shown[0]) ctx.fillText(T("more", {n: sizes[0] - shown[0]}), colX(0), H - 4);
  sizes.forEach((s, l) => ctx.fillText(l === 0 ? T("inputs") : l === L - 1 ? T("output") : `${s}`, colX(l), 12));
  if (S.hover) showHover(S.hover);
}
function fit(ctx, text, room) {  // shorten text with an ellipsis to fit `room` pixels
  if (ctx.measureText(text).width <= room) return text;
  let t = text;
  while (t.length > 1 && ctx.measureText(t + "…").width > room) t = t.slice(0, -1);
  return t + "…";
}

function bezier(e, t) {  // a point on an edge's curve
  const [ax, ay] = e.a, [bx, by] = e.b, u = 1 - t;
  return [u ** 3 * ax + 3 * u * u * t * e.mx + 3 * u * t * t * e.mx + t ** 3 * bx,
    u ** 3 * ay + 3 * u * u * t * ay + 3 * u * t * t * by + t ** 3 * by];
}
function hitTest(x, y) {
  for (const n of S.nodes) if (Math.abs(x - n.x) <= n.node / 2 && Math.abs(y - n.y) <= n.node / 2) return {kind: "node", ...n};
  let best = null, bestD = 5;
  for (const e of S.edges) for (let k = 0; k <= 20; k++) {
    const [px, py] = bezier(e, k / 20), d = Math.hypot(px - x, py - y);
    if (d < bestD) { bestD = d; best = {kind: "edge", ...e}; }
  }
  return best;
}
function unitName(l, j) {
  if (l === 0) return inputLabel(S.data.inputs[j] || "");
  return l === S.data.layers.length - 1 ? T("output_title") : T("neuron_title", {l, j: j + 1});
}

function showHover(h) {
  const box = $("hover"), cv = $("hover-canvas"), ctx = cv.getContext("2d");
  if (!S.frame) return;
  if (h.kind === "edge") {
    const w = S.frame.weights[h.l] && S.frame.weights[h.l][h.j] ? S.frame.weights[h.l][h.j][h.i] : h.w;
    $("hover-title").textContent = T("weight_title", {w: Number(w).toFixed(3), src: unitName(h.l, h.i), dst: unitName(h.l + 1, h.j)});
    cv.hidden = true; $("hover-hint").textContent = "";
  } else {
    const img = nodeImage(h.l, h.j);
    $("hover-title").textContent = h.l === 0 ? T("input_title", {name: unitName(0, h.j)}) : unitName(h.l, h.j);
    $("hover-hint").textContent = h.l > 0 && h.l < S.data.layers.length - 1 ? T("neuron_hint") : "";
    cv.hidden = !img;
    if (img) { ctx.clearRect(0, 0, cv.width, cv.height); ctx.imageSmoothingEnabled = true;
      ctx.drawImage(img, 0, 0, cv.width, cv.height); ctx.globalAlpha = 0.85;
      drawPoints(ctx, cv.width, cv.height, 2.2); ctx.globalAlpha = 1; }
  }
  box.hidden = false;
  const net = $("network"), scale = net.clientWidth / net.width;
  const left = Math.min(h.x * scale + 16, net.clientWidth - box.offsetWidth);
  box.style.left = `${Math.max(0, left)}px`; box.style.top = `${Math.max(0, h.y * scale - 40)}px`;
}
function onNetworkHover(ev) {
  const cv = $("network"), r = cv.getBoundingClientRect();
  const x = (ev.clientX - r.left) * cv.width / r.width, y = (ev.clientY - r.top) * cv.height / r.height;
  const hit = hitTest(x, y);
  S.hover = hit ? {...hit, x, y} : null;
  if (S.hover) showHover(S.hover); else $("hover").hidden = true;
}

function paint() {
  if (!S.frame || S.painted === S.frame) return;
  S.painted = S.frame;
  drawBoundary(); drawCurves(); drawNetwork(); drawMetrics();
}
