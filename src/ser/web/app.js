// ser serve page: record from the microphone (MediaRecorder) or pick a file, POST it to
// /predict, show the label, probability bars, "uncertain" and the timeline of segments.
"use strict";

const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
                "#7f7f7f"];  // the palette of ser.plots
const MAX_RECORD_S = 30;
const $ = (id) => document.getElementById(id);
let recorder = null;
let timerId = null;

function color(labels, label) {
  return COLORS[Math.max(0, labels.indexOf(label)) % COLORS.length];
}

function showError(text) {
  $("error").textContent = text;
  $("error").hidden = !text;
}

async function loadModel() {
  try {
    const r = await fetch("/model");
    const m = await r.json();
    const parts = [`model ${m.model_dir}`, `features ${m.feature_sets.join(", ")}`];
    if (m.training_corpus.length) parts.push(`trained on ${m.training_corpus.join(", ")}`);
    if (m.metrics && typeof m.metrics.uar === "number") {
      const proto = typeof m.metrics.protocol === "string" ? m.metrics.protocol
                                                            : m.metrics.protocol?.protocol;
      parts.push(`UAR ${m.metrics.uar.toFixed(3)}${proto ? ` (${proto})` : ""}`);
    }
    parts.push(`labels: ${m.labels.join(", ")}`);
    $("model").textContent = parts.join(" · ");
    if (m.corpus && m.corpus.synthetic) {
      $("model-warning").textContent = "This model was trained on a synthetic demo corpus " +
        "(generated tones and noise, not speech): its labels mean nothing for real recordings.";
      $("model-warning").hidden = false;
    }
    if (typeof m.threshold === "number") $("threshold").value = m.threshold;
  } catch (e) {
    $("model").textContent = "model information unavailable";
  }
}

async function upload(blob, name) {
  showError("");
  $("status").textContent = `classifying ${name}…`;
  $("result").hidden = false;
  $("label").textContent = "";
  const form = new FormData();
  form.append("file", blob, name);
  form.append("segment", $("segment").checked ? "true" : "false");
  form.append("threshold", $("threshold").value || "0");
  const t0 = performance.now();
  let r;
  try {
    r = await fetch("/predict", { method: "POST", body: form });
  } catch (e) {
    $("status").textContent = "";
    showError(`request failed: ${e}`);
    return;
  }
  const ms = Math.round(performance.now() - t0);
  let doc = null;
  try { doc = await r.json(); } catch (e) { doc = null; }
  if (!doc || !doc.files) {
    $("status").textContent = "";
    showError(`HTTP ${r.status}: ${doc && doc.detail ? JSON.stringify(doc.detail) : r.statusText}`);
    return;
  }
  render(doc, ms);
}

// What `ser predict` warns about, on the page too: the result's warnings (a synthetic training
// corpus, files outside the training data, ...), then this file's own reasons.
function renderWarnings(doc, f) {
  const items = [...(doc.warnings || [])];
  for (const r of (f && f.outside_training) || []) items.push(`outside the training data: ${r}`);
  const list = $("warnings");
  list.innerHTML = "";
  for (const text of items) {
    const li = document.createElement("li");
    li.textContent = text;
    list.appendChild(li);
  }
  list.hidden = !items.length;
  const q = f && f.quality;
  const parts = [];
  if (q && typeof q.snr_db === "number") parts.push(`estimated SNR ${q.snr_db.toFixed(0)} dB`);
  if (q && typeof q.bandwidth_hz === "number") {
    parts.push(`bandwidth ${(q.bandwidth_hz / 1000).toFixed(1)} kHz` +
               (q.narrowband ? " (narrowband: telephone-like)" : ""));
  }
  if (q && q.clipped > 0.001) parts.push(`clipped ${(100 * q.clipped).toFixed(1)} % of samples`);
  $("quality").textContent = parts.length ? `input: ${parts.join(" · ")}` : "";
}

function render(doc, ms) {
  const f = doc.files[0];
  const labels = doc.labels;
  renderWarnings(doc, f);
  if (f.status !== "ok") {
    $("status").textContent = `${f.path}: not classified`;
    $("verdict").hidden = true;
    $("bars").innerHTML = "";
    $("timeline-box").hidden = true;
    showError(f.reason);
    return;
  }
  $("verdict").hidden = false;
  const dur = f.duration != null ? `${f.duration.toFixed(1)} s` : "";
  const nseg = f.segments ? `, ${f.segments.length} speech segment(s)` : "";
  $("status").textContent = `${f.path} (${dur}${nseg}) classified in ${ms} ms`;
  $("label").textContent = f.label;
  $("label").style.color = color(labels, f.label);
  $("confidence").textContent = `confidence ${f.confidence.toFixed(2)}`;
  $("uncertain").hidden = !f.uncertain;
  const bars = $("bars");
  bars.innerHTML = "";
  const order = [...labels].sort((a, b) => f.probabilities[b] - f.probabilities[a]);
  for (const lab of order) {
    const p = f.probabilities[lab];
    const row = document.createElement("div");
    row.className = "bar";
    row.dataset.label = lab;
    row.innerHTML = `<span></span><div class="track"><div class="fill"></div></div>` +
                    `<span class="value"></span>`;
    row.children[0].textContent = lab;
    row.querySelector(".fill").style.width = `${(100 * p).toFixed(1)}%`;
    row.querySelector(".fill").style.background = color(labels, lab);
    row.children[2].textContent = p.toFixed(2);
    bars.appendChild(row);
  }
  const segs = (f.segments || []);
  const longer = segs.length > 1 || (f.duration || 0) > 6;
  $("timeline-box").hidden = !(segs.length && longer);
  if (segs.length && longer) drawTimeline(f, labels);
}

function svg(tag, attrs, text) {
  const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  if (text !== undefined) el.textContent = text;
  return el;
}

function drawTimeline(f, labels) {
  const box = $("timeline");
  box.innerHTML = "";
  const W = box.clientWidth || 800, H = box.clientHeight || 230;
  const L = 40, R = 10, T = 8, band = 34, gap = 14, B = 22;
  const plotTop = T + band + gap, plotH = H - plotTop - B;
  const dur = Math.max(f.duration || 0, ...f.segments.map((s) => s.end), 0.1);
  const x = (t) => L + (W - L - R) * t / dur;
  const y = (p) => plotTop + plotH * (1 - p);
  // segments band: one coloured box per classified segment, its label written inside
  for (const s of f.segments) {
    const ok = s.status === "ok";
    const c = ok ? color(labels, s.label) : "#bbb";
    const g = svg("g", { "class": "segment", "data-label": ok ? s.label : "" });
    g.appendChild(svg("rect", { x: x(s.start), y: T, width: Math.max(1, x(s.end) - x(s.start)),
                                height: band, fill: c, "fill-opacity": ok && s.uncertain ? 0.45 : 0.9 }));
    const title = ok ? `${s.start.toFixed(2)}-${s.end.toFixed(2)} s: ${s.label} ` +
                       `(confidence ${s.confidence.toFixed(2)}${s.uncertain ? ", uncertain" : ""})`
                     : `${s.start.toFixed(2)}-${s.end.toFixed(2)} s: ${s.reason}`;
    g.appendChild(svg("title", {}, title));
    if (x(s.end) - x(s.start) > 36) {
      g.appendChild(svg("text", { x: x(s.start) + 4, y: T + band / 2 + 4, fill: "#fff",
                                   "font-size": 12 }, ok ? s.label : "-"));
    }
    box.appendChild(g);
  }
  // probability of each label over time (a step line per label; gaps between segments)
  box.appendChild(svg("line", { x1: L, x2: W - R, y1: y(0), y2: y(0), stroke: "#999" }));
  for (const p of [0, 0.5, 1]) {
    box.appendChild(svg("text", { x: L - 6, y: y(p) + 4, "text-anchor": "end", "font-size": 10,
                                   fill: "#666" }, p.toFixed(1)));
  }
  for (const lab of labels) {
    let d = "";
    for (const s of f.segments) {
      if (s.status !== "ok") continue;
      const v = s.probabilities[lab];
      d += `M${x(s.start)},${y(v)}H${x(s.end)}`;
    }
    box.appendChild(svg("path", { d, stroke: color(labels, lab), "stroke-width": 2, fill: "none",
                                   "data-label": lab }));
  }
  const step = dur > 60 ? 10 : dur > 20 ? 5 : 1;
  for (let t = 0; t <= dur + 1e-9; t += step) {
    box.appendChild(svg("text", { x: x(t), y: H - 6, "text-anchor": "middle", "font-size": 10,
                                   fill: "#666" }, `${t}s`));
  }
  if (f.label_share) {
    $("share").textContent = "share of speech time: " + labels
      .filter((l) => f.label_share[l] > 0)
      .sort((a, b) => f.label_share[b] - f.label_share[a])
      .map((l) => `${l} ${Math.round(100 * f.label_share[l])}%`).join(", ");
  }
}

async function toggleRecording() {
  if (recorder && recorder.state === "recording") {
    recorder.stop();
    return;
  }
  showError("");
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ audio: true });
  } catch (e) {
    showError(`microphone not available: ${e.message || e}`);
    return;
  }
  const chunks = [];
  recorder = new MediaRecorder(stream);
  recorder.ondataavailable = (ev) => { if (ev.data.size) chunks.push(ev.data); };
  recorder.onstop = () => {
    clearInterval(timerId);
    stream.getTracks().forEach((t) => t.stop());
    $("record").textContent = "● Record";
    $("record").classList.remove("recording");
    $("timer").textContent = "";
    const type = recorder.mimeType || "audio/webm";
    const blob = new Blob(chunks, { type });
    $("playback").src = URL.createObjectURL(blob);
    $("playback").hidden = false;
    const ext = type.includes("ogg") ? "ogg" : type.includes("mp4") ? "m4a" : "webm";
    upload(blob, `recording.${ext}`);
  };
  recorder.start(250);
  const t0 = Date.now();
  $("record").textContent = "■ Stop and classify";
  $("record").classList.add("recording");
  timerId = setInterval(() => {
    const s = (Date.now() - t0) / 1000;
    $("timer").textContent = `recording ${s.toFixed(1)} s`;
    if (s >= MAX_RECORD_S && recorder.state === "recording") recorder.stop();
  }, 100);
}

$("record").addEventListener("click", toggleRecording);
$("file").addEventListener("change", () => {
  const file = $("file").files[0];
  if (!file) return;
  $("playback").src = URL.createObjectURL(file);
  $("playback").hidden = false;
  upload(file, file.name);
});
loadModel();
