// The playground's lesson panel (?lesson=circles): it states the task of the current step,
// watches the live run through the frames the page already receives (the config the server
// trains, the epoch and the test score) and ticks the step when its conditions hold. The
// playground's controls are the answer. Steps and texts come from GET api/lessons/{name};
// passed steps stay ticked in localStorage. Texts are shown with textContent, never as HTML.
"use strict";
(() => {
  const name = new URLSearchParams(location.search).get("lesson");
  if (!name) return;
  const panel = $("lesson-panel");
  const KEY = `mlplab.lesson.${name}`;
  const L = {spec: null, done: new Set(JSON.parse(localStorage.getItem(KEY) || "[]")), now: ""};

  // conditions on the run being trained: name -> (wanted, view) -> met?
  const CONDITIONS = {
    dataset: (v, r) => r.dataset === v,
    layers_max: (v, r) => r.layers <= v,
    layers_min: (v, r) => r.layers >= v,
    activation: (v, r) => r.layers > 0 && r.activations.every((a) => a === v),
    no_crosses: (v, r) => !v || r.crosses === 0,
    epochs_min: (v, r) => r.epoch >= v,
    test_max: (v, r) => r.test != null && r.test < v,
    test_min: (v, r) => r.test != null && r.test > v,
  };
  function run(frame) {  // what the server is training now, from its data message and frame
    const m = S.data.config.model, hidden = m.hidden || [];
    const acts = Array.isArray(m.activation) ? m.activation : hidden.map(() => m.activation);
    return {dataset: S.upload ? null : S.data.config.data.source, layers: hidden.length,
      activations: acts.slice(0, hidden.length), crosses: (m.crosses || []).length,
      epoch: frame.epoch, test: frame.test_score};
  }
  const met = (step, r) => Object.entries(step.when).every(([k, v]) => CONDITIONS[k](v, r));
  const current = () => L.spec.steps.findIndex((s) => !L.done.has(s.id));

  function rich(text) {  // **bold** and `code` as elements; everything else as text
    const frag = document.createDocumentFragment();
    text.split(/(\*\*[^*]+\*\*|`[^`]+`)/).forEach((part) => {
      if (!part) return;
      const tag = part.startsWith("**") ? "b" : part.startsWith("`") ? "code" : null;
      const el = tag ? document.createElement(tag) : document.createTextNode(part);
      if (tag) el.textContent = part.replace(/^\*\*|\*\*$|^`|`$/g, "");
      frag.append(el);
    });
    return frag;
  }
  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.append(rich(text));
    return e;
  }
  function render() {
    const sp = L.spec, cur = current(), tx = sp.texts;
    const head = el("h2", null, tx.title), title = el("h3", null, sp.title);
    const list = el("ol");
    sp.steps.forEach((s, i) => {
      const li = el("li", L.done.has(s.id) ? "done" : i === cur ? "current" : "", s.task);
      li.dataset.step = s.id;
      if (i === cur) li.append(el("p", "hint", s.hint));
      list.append(li);
    });
    const status = cur < 0 ? el("p", "complete", tx.all_done) :
      el("p", "hint", `${tx.step.replace("{n}", cur + 1).replace("{total}", sp.steps.length)} · ${L.now || tx.watching}`);
    status.id = "lesson-status";
    panel.replaceChildren(head, title, el("p", "hint", sp.intro), list, status);
    panel.dataset.done = String(L.done.size);
    panel.hidden = false;
  }
  function watch(frame) {
    if (!L.spec || !S.data || frame.test_score == null) return;
    const r = run(frame), cur = current();
    L.now = L.spec.texts.now.replace("{layers}", r.layers)
      .replace("{activation}", r.layers ? [...new Set(r.activations)].join("/") : "–")
      .replace("{acc}", Number(r.test).toFixed(3)).replace("{epochs}", r.epoch);
    if (cur >= 0 && met(L.spec.steps[cur], r)) {
      L.done.add(L.spec.steps[cur].id);
      localStorage.setItem(KEY, JSON.stringify([...L.done]));
      render();
    } else if (cur >= 0) {  // the same step: only the line about the run changes
      $("lesson-status").textContent = `${L.spec.texts.step.replace("{n}", cur + 1)
        .replace("{total}", L.spec.steps.length)} · ${L.now}`;
    }
  }
  async function load(lang) {
    const r = await fetch(`api/lessons/${encodeURIComponent(name)}?lang=${encodeURIComponent(lang)}`);
    const body = await r.json();
    if (!r.ok) { banner(body.error || "lesson not found"); return; }
    L.spec = body; render();
  }

  // the CJK font arrives after the first Chinese text is drawn; Chromium keeps the text it
  // shaped before as missing glyphs until a style change makes it shape the text again
  document.fonts.addEventListener("loadingdone", () => {
    panel.style.letterSpacing = panel.style.letterSpacing ? "" : "0.001px"; });
  const onFrame = HANDLERS.frame;
  HANDLERS.frame = (m) => { onFrame(m); watch(m); };
  const switchTo = switchLanguage;
  switchLanguage = async (lang) => { await switchTo(lang); await load(lang); };  // eslint-disable-line no-global-assign
  load(new URLSearchParams(location.search).get("lang") || "en")
    .catch((e) => banner(String(e)));
})();
