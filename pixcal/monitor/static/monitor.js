// pixcal monitor page: polls api/runs and updates one section per run (only what changed).
"use strict";

const runsEl = document.getElementById("runs");
const shown = new Map(); // run name -> {section, parts, json, maps: Set}

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "text") node.textContent = String(value);
    else node.setAttribute(key, String(value));
  }
  for (const child of children) {
    if (child !== null && child !== undefined) node.append(child);
  }
  return node;
}

function seconds(s) {
  if (s === null || s === undefined || !Number.isFinite(s)) return "-";
  if (s < 60) return s.toFixed(1) + " s";
  const m = Math.floor(s / 60);
  return m + " min " + Math.round(s - 60 * m) + " s";
}

function quantity(value, unit) {
  if (value === null || value === undefined || !Number.isFinite(value)) return "-";
  if (unit === "A") {
    const a = Math.abs(value);
    if (a >= 0.1) return value.toFixed(3) + " A";
    if (a >= 1e-4) return (value * 1e3).toFixed(1) + " mA";
    if (a >= 1e-7) return (value * 1e6).toFixed(2) + " \u00b5A";
    return (value * 1e9).toFixed(2) + " nA";
  }
  if (unit === "degC") return value.toFixed(1) + " \u00b0C";
  return value.toPrecision(4) + (unit ? " " + unit : "");
}

const SERIES_TITLES = {
  ia_a: "analog current IA", id_a: "digital current ID", temperature_c: "temperature",
  humidity_pct: "humidity", dewpoint_c: "dew point", hv_v: "bias voltage",
  hv_current_a: "leakage current",
};

function sparkline(series) {
  const w = 220, h = 60, n = series.t.length;
  const t0 = series.t[0], t1 = series.t[n - 1];
  const lo = Math.min(...series.v), hi = Math.max(...series.v);
  const points = series.t.map((t, i) => {
    const x = t1 > t0 ? (t - t0) / (t1 - t0) * (w - 4) + 2 : w / 2;
    const y = hi > lo ? h - 2 - (series.v[i] - lo) / (hi - lo) * (h - 4) : h / 2;
    return x.toFixed(1) + "," + y.toFixed(1);
  });
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("width", w);
  svg.setAttribute("height", h);
  svg.setAttribute("viewBox", `0 0 ${w} ${h}`);
  const line = document.createElementNS(ns, "polyline");
  line.setAttribute("points", points.join(" "));
  svg.append(line);
  return svg;
}

function decoderCell(step) {
  const errors = Object.entries(step.decoder_errors || {});
  if (step.events === null || step.events === undefined) return el("td", {class: "num", text: ""});
  const total = errors.reduce((sum, [, n]) => sum + n, 0);
  const title = errors.map(([k, n]) => k + " " + n).join(", ");
  return el("td", {class: total ? "num bad" : "num", title: title || null,
                   "data-decoder-errors": total, text: total ? total + " errors" : "0"});
}

const RECOVERY_LABELS = {
  chunk_retries: "chunks measured again", recoveries: "recoveries", power_cycles: "power cycles",
};

function recoveryText(counts) {
  return Object.entries(counts).filter(([, n]) => n)
    .map(([k, n]) => `${n} ${RECOVERY_LABELS[k] || k}`).join(", ");
}

function recoveryCell(step) {
  const counts = step.recoveries || {};
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  return el("td", {class: "num", "data-recoveries": total, text: recoveryText(counts)});
}

function stepNote(step) {
  if (step.error) return step.error;
  return Object.entries(step.summary || {})
    .filter(([k]) => k !== "problems")
    .slice(0, 5)
    .map(([k, v]) => k + " " + JSON.stringify(v))
    .join("; ");
}

function stepRows(run) {
  const body = el("tbody");
  for (const step of run.steps) {
    let status = el("td", {text: step.status});
    if (step.status === "running" && run.current && run.current.total) {
      const c = run.current;
      status = el("td", {}, step.status + " ",
                  el("progress", {max: c.total, value: Math.min(c.done, c.total)}));
    }
    body.append(el("tr", {"data-step": step.key, "data-status": step.status},
      el("td", {class: "num", text: step.index + 1}), el("td", {text: step.name}),
      el("td", {text: step.procedure}), status,
      el("td", {class: "num", text: seconds(step.status === "running" && run.current
        ? run.current.step_hardware_s : step.hardware_s)}),
      el("td", {class: "num", text: step.events === null || step.events === undefined
        ? "" : step.events}),
      decoderCell(step), recoveryCell(step), el("td", {class: "note", text: stepNote(step)})));
  }
  run.pending.forEach((name, i) => body.append(el("tr", {"data-status": "pending"},
    el("td", {class: "num", text: run.steps.length + i + 1}), el("td", {text: name}),
    el("td", {}), el("td", {text: "pending"}), el("td"), el("td"), el("td"), el("td"),
    el("td"))));
  const head = el("tr", {}, ...["#", "step", "procedure", "status", "hardware", "events",
    "decoder errors", "SEU recoveries", "figures / error"].map((t) => el("th", {text: t})));
  return el("table", {class: "steps"}, el("thead", {}, head), body);
}

function currentLine(run) {
  const running = run.steps.find((s) => s.status === "running");
  if (!running) return null;
  const c = run.current;
  const total = run.steps.length + run.pending.length;
  let text = `step ${running.index + 1} of ${total}: ${running.name}`;
  if (c && c.total) {
    text += ` - ${Math.round(c.done)} of ${Math.round(c.total)} ${c.unit}` +
            ` (${Math.round(100 * c.done / c.total)} %)`;
  }
  if (c && c.description && c.description !== running.name) text += ` - ${c.description}`;
  if (c && c.step_hardware_s !== null) text += `, hardware ${seconds(c.step_hardware_s)}`;
  return el("div", {class: "current", "data-current": running.key, text});
}

function seriesBlock(run) {
  const names = Object.keys(run.monitor || {});
  if (!names.length) return null;
  const block = el("div", {class: "series"});
  for (const name of names) {
    const s = run.monitor[name];
    let last = s.last;
    if (run.live && name in run.live) last = run.live[name];
    block.append(el("figure", {"data-series": name}, sparkline(s),
      el("figcaption", {text: `${SERIES_TITLES[name] || name}: ${quantity(last, s.unit)}`})));
  }
  return block;
}

function headLines(run) {
  const who = [run.operator && "operator " + run.operator, run.site && "site " + run.site,
               run.target].filter(Boolean).join(", ");
  const hw = `hardware ${seconds(run.hardware_s)}` +
             (run.hardware_time_source ? ` (${run.hardware_time_source})` : "");
  const when = run.created_utc + (run.finished_utc ? " \u2013 " + run.finished_utc : "");
  let errors = 0;
  const recovered = {};
  for (const step of run.steps) {
    errors += Object.values(step.decoder_errors || {}).reduce((a, b) => a + b, 0);
    for (const [k, n] of Object.entries(step.recoveries || {})) recovered[k] = (recovered[k] || 0) + n;
  }
  const recoveries = Object.values(recovered).reduce((a, b) => a + b, 0);
  const health = `decoder errors ${errors} \u00b7 SEU recoveries: ` +
                 (recoveryText(recovered) || "none");
  return [
    el("h2", {}, el("span", {class: "state", "data-state": run.state, text: run.state}), " ",
       `${run.module_id} \u00b7 ${run.plan}`),
    el("div", {class: "meta", text: [run.name, who, when, hw].filter(Boolean).join(" \u00b7 ")}),
    el("div", {class: errors ? "meta bad" : "meta", "data-health": errors + recoveries,
               text: health}),
  ];
}

// Map pictures load one at a time and only once near the screen, so that the pictures being
// drawn never hold the browser's connections that the next poll needs.
const pictureQueue = [];
let pictureLoading = false;

function loadNextPicture() {
  if (pictureLoading || !pictureQueue.length) return;
  const img = pictureQueue.shift();
  pictureLoading = true;
  const done = () => {
    pictureLoading = false;
    loadNextPicture();
  };
  img.addEventListener("load", done, {once: true});
  img.addEventListener("error", done, {once: true});
  img.src = img.dataset.src;
}

const nearScreen = new IntersectionObserver((entries) => {
  for (const entry of entries) {
    if (!entry.isIntersecting) continue;
    nearScreen.unobserve(entry.target);
    pictureQueue.push(entry.target);
  }
  loadNextPicture();
}, {rootMargin: "400px"});

function addMaps(entry, run) {
  for (const step of run.steps) {
    for (const m of step.maps || []) {
      const key = m.step + "/" + m.name;
      if (entry.maps.has(key)) continue;
      entry.maps.add(key);
      const src = "api/map.png?" + new URLSearchParams({run: run.name, step: m.step,
                                                        map: m.name});
      const img = el("img", {"data-src": src, alt: key});
      entry.parts.maps.append(el("figure", {"data-map": key}, img,
                                 el("figcaption", {text: key})));
      nearScreen.observe(img);
    }
  }
}

function section(run) {
  const parts = {alarm: el("div", {class: "alarm", role: "alert", hidden: true}),
                 head: el("div"), current: el("div"), steps: el("div"), series: el("div"),
                 maps: el("div", {class: "maps"})};
  const node = el("section", {class: "run", "data-run": run.name}, parts.alarm, parts.head,
                  parts.current, parts.steps, parts.series, parts.maps);
  return {section: node, parts, json: "", maps: new Set()};
}

function update(entry, run) {
  const p = entry.parts;
  entry.section.dataset.state = run.state;
  p.alarm.hidden = !run.alarm;
  p.alarm.textContent = run.alarm || "";
  p.head.replaceChildren(...headLines(run));
  p.current.replaceChildren(...[currentLine(run)].filter(Boolean));
  p.steps.replaceChildren(stepRows(run));
  p.series.replaceChildren(...[seriesBlock(run)].filter(Boolean));
  addMaps(entry, run);
}

function render(snapshot) {
  document.getElementById("folder").textContent = snapshot.folder;
  const updated = document.getElementById("updated");
  updated.dataset.time = snapshot.time;
  updated.textContent = "updated " + new Date(snapshot.time * 1000).toLocaleTimeString();
  document.getElementById("empty").hidden = snapshot.runs.length > 0;
  const names = new Set();
  snapshot.runs.forEach((run, i) => {
    names.add(run.name);
    let entry = shown.get(run.name);
    if (!entry) {
      entry = section(run);
      shown.set(run.name, entry);
    }
    const json = JSON.stringify({...run, progress_age_s: null});
    if (json !== entry.json) {
      update(entry, run);
      entry.json = json;
    }
    if (runsEl.children[i] !== entry.section) runsEl.insertBefore(entry.section,
                                                                   runsEl.children[i] || null);
  });
  for (const [name, entry] of shown) {
    if (!names.has(name)) {
      entry.section.remove();
      shown.delete(name);
    }
  }
}

async function poll() {
  let delay = 1000;
  const offline = document.getElementById("offline");
  try {
    const response = await fetch("api/runs", {cache: "no-store"});
    if (!response.ok) throw new Error("the server answered " + response.status);
    const snapshot = await response.json();
    delay = snapshot.poll_ms || delay;
    offline.hidden = true;
    render(snapshot);
  } catch (err) {
    offline.textContent = "no answer from the monitor server (" + err.message +
                          "); trying again";
    offline.hidden = false;
    delay = 3000;
  }
  setTimeout(poll, delay);
}

poll();
