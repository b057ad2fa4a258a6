/*
 * The Monitoring pages, on top of live.js (the socket, the pushes, polling while it is down):
 *
 * - charts drawn with uPlot from the JSON each chart section carries (no inline code: the pages run
 *   under a strict Content-Security-Policy); each chart has its summary and a data table in the page;
 * - the range picker fetches the section for the new range and redraws its charts; the choice is
 *   kept in the URL;
 * - the module cards' filter and sort, by mouse or keyboard, kept in the URL and applied again when a
 *   pushed card changes its status;
 * - the last check's age: past 30 s the overview says its results are old;
 * - the performance section refreshes every minute while nobody is using it.
 */
(function () {
  "use strict";

  var STALE_AFTER_S = 30;
  var REFRESH_MS = 60000;
  var HEIGHT = 200;
  var charts = [];

  // Each chart section carries its data in data-chart-data (a <script> block would not survive htmx's swap).
  function chartData(section) {
    return section.dataset.chartData ? JSON.parse(section.dataset.chartData) : null;
  }

  function css(name, fallback) {
    var value = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
    return value || fallback;
  }

  function axes(left, right) {
    var ink = css("--body-quiet-color", "#666");
    var grid = { stroke: css("--hairline-color", "#ddd"), width: 1 };
    var list = [
      { stroke: ink, grid: grid, ticks: grid },
      { stroke: ink, grid: grid, ticks: grid, label: left, scale: "y" },
    ];
    if (right) list.push({ stroke: ink, grid: { show: false }, ticks: grid, label: right, scale: "ms", side: 1 });
    return list;
  }

  // Lines differ by dash as well as colour, so no series is told by colour alone.
  function line(label, color, dash, scale) {
    return { label: label, stroke: color, width: 2, dash: dash, scale: scale || "y", spanGaps: false, points: { show: false } };
  }

  function plot(el, columns, series, left, right) {
    if (!el || typeof uPlot === "undefined") return;
    el.textContent = "";
    var options = {
      width: Math.max(260, el.clientWidth || 600),
      height: HEIGHT,
      series: [{}].concat(series),
      axes: axes(left, right),
      scales: { x: { time: true } },
      legend: { show: true, live: false },
      cursor: { drag: { x: false, y: false } },
    };
    charts.push({ el: el, chart: new uPlot(options, columns, el) });
    el.dataset.drawn = columns[0].length + " points"; // what the tests (and a curious operator) can read
  }

  function drawPerformance(section) {
    var data = chartData(section);
    if (!data) return;
    var s = data.series;
    section.dataset.drawnRange = data.range;
    var blue = css("--link-fg", "#1565c0");
    plot(section.querySelector('[data-chart="latency"]'), [s.t, s.p50, s.p95, s.p99], [
      line("p50", "#2e7d32", []),
      line("p95", blue, [8, 4]),
      line("p99", "#c62828", [2, 3]),
    ], "ms");
    plot(section.querySelector('[data-chart="rate"]'), [s.t, s.request_rate], [line("requests/s", blue, [])], "req/s");
    plot(section.querySelector('[data-chart="errors"]'), [s.t, s.error_rate], [line("errors %", "#c62828", [])], "%");
  }

  function drawModule(section) {
    var data = chartData(section);
    if (!data) return;
    section.querySelectorAll('[data-chart="family"]').forEach(function (el) {
      var f = data.families[el.dataset.family];
      if (!f) return;
      plot(el, [data.t, f.count, f.errors, f.mean_ms], [
        line(f.words, css("--link-fg", "#1565c0"), []),
        line("failed", "#c62828", [2, 3]),
        line("mean ms", "#6a1b9a", [8, 4], "ms"),
      ], "count", "ms");
    });
  }

  // The Workers card: the queue's length with the alert threshold drawn as a flat dashed line.
  function drawQueue(section) {
    var data = chartData(section);
    if (!data) return;
    var threshold = Number(section.dataset.threshold);
    plot(section.querySelector('[data-chart="queue"]'), [data.t, data.max, data.t.map(function () { return threshold; })], [
      line("waiting", css("--link-fg", "#1565c0"), []),
      line("alert threshold", "#c62828", [6, 4]),
    ], "messages");
  }

  function drawAll() {
    charts.forEach(function (item) {
      item.chart.destroy();
    });
    charts = [];
    var perf = document.getElementById("mon-performance");
    if (perf) drawPerformance(perf);
    var module = document.getElementById("mon-module-charts");
    if (module) drawModule(module);
    var queue = document.getElementById("worker-status-card");
    if (queue) drawQueue(queue);
  }

  var resizing = null;
  window.addEventListener("resize", function () {
    window.clearTimeout(resizing);
    resizing = window.setTimeout(function () {
      charts.forEach(function (item) {
        item.chart.setSize({ width: Math.max(260, item.el.clientWidth), height: HEIGHT });
      });
    }, 150);
  });

  // --- The URL keeps the choices ------------------------------------------------------------

  function remember(changes) {
    var params = new URLSearchParams(window.location.search);
    Object.keys(changes).forEach(function (key) {
      params.set(key, changes[key]);
    });
    window.history.replaceState(null, "", window.location.pathname + "?" + params.toString());
    document.querySelectorAll("form input[type=hidden]").forEach(function (input) {
      if (Object.prototype.hasOwnProperty.call(changes, input.name)) input.value = changes[input.name];
    });
  }

  // --- Range: fetch the section for it and redraw ------------------------------------------------

  function switchRange(section, range, focus) {
    var params = new URLSearchParams(window.location.search);
    params.set("range", range);
    var id = section.id;
    htmx.ajax("GET", section.dataset.partial + "?" + params.toString(), { target: "#" + id, swap: "outerHTML" }).then(function () {
      remember({ range: range });
      drawAll();
      var picked = document.querySelector("#" + id + ' input[name="range"][value="' + range + '"]');
      if (focus && picked) picked.focus(); // the operator's radio was replaced with the section
    });
  }

  // --- Module cards: filter and sort ----------------------------------------------------------

  function chosen() {
    var form = document.getElementById("mon-controls");
    if (!form) return null;
    var status = form.querySelector('input[name="status"]:checked');
    return { status: status ? status.value : "all", sort: form.querySelector('select[name="sort"]').value };
  }

  function compare(sort) {
    return function (a, b) {
      var x = a.querySelector(".mon-module").dataset;
      var y = b.querySelector(".mon-module").dataset;
      if (sort === "status" && x.rank !== y.rank) return Number(x.rank) - Number(y.rank);
      if (sort === "response") {
        var rx = x.rt === "" ? -1 : Number(x.rt);
        var ry = y.rt === "" ? -1 : Number(y.rt);
        if (rx !== ry) return ry - rx;
      }
      return x.title.localeCompare(y.title);
    };
  }

  function arrange() {
    var choice = chosen();
    var list = document.getElementById("mon-modules");
    if (!choice || !list) return;
    var slots = Array.prototype.slice.call(list.children).filter(function (slot) {
      return slot.querySelector(".mon-module");
    });
    var shown = 0;
    slots.forEach(function (slot) {
      var status = slot.querySelector(".mon-module").dataset.status;
      slot.hidden = !(choice.status === "all" || status === choice.status);
      if (!slot.hidden) shown += 1;
    });
    var sorted = slots.slice().sort(compare(choice.sort));
    // Moved only when the order changed: moving a card takes the focus away from whoever is in it.
    if (sorted.some(function (slot, i) { return slot !== slots[i]; })) {
      sorted.forEach(function (slot) {
        list.appendChild(slot);
      });
    }
    var empty = document.getElementById("mon-modules-empty");
    if (empty) {
      empty.hidden = shown > 0;
      empty.textContent = "No module is " + choice.status + ".";
    }
  }

  document.addEventListener("change", function (event) {
    var input = event.target;
    var range = input.closest(".mon-range");
    if (range && input.name === "range") {
      switchRange(range.closest("section"), input.value, true);
    } else if (input.closest("#mon-controls")) {
      var choice = chosen();
      remember({ status: choice.status, sort: choice.sort });
      arrange();
    }
  });

  var pending = false;
  function arrangeSoon() {
    if (pending) return;
    pending = true;
    window.requestAnimationFrame(function () {
      pending = false;
      arrange();
      markStale();
    });
  }
  document.addEventListener("htmx:oobAfterSwap", arrangeSoon);
  // A pushed or polled Workers card comes without its chart: draw them all again.
  function redrawIfQueue(event) {
    var target = event.detail && (event.detail.target || event.detail.elt);
    if (target && target.id === "worker-status-card") window.requestAnimationFrame(drawAll);
  }
  document.addEventListener("htmx:oobAfterSwap", redrawIfQueue);
  document.addEventListener("htmx:afterSwap", redrawIfQueue);
  document.addEventListener("htmx:afterSwap", arrangeSoon);

  // --- The last check's age -------------------------------------------------------------------

  function markStale() {
    var age = document.querySelector(".mon-age[data-ops-age]");
    var note = document.querySelector(".mon-stale-note");
    if (!age || !note) return;
    var old = Date.now() / 1000 - Number(age.dataset.opsAge) > Number(age.dataset.monStaleAfter || STALE_AFTER_S);
    if (note.hidden === old) note.hidden = !old;
  }

  // --- Keep the performance section fresh ----------------------------------------------------

  function refresh() {
    var section = document.getElementById("mon-performance") || document.getElementById("mon-module-charts");
    if (!section || document.visibilityState !== "visible") return;
    if (section.contains(document.activeElement) || section.querySelector("details[open]")) return;
    switchRange(section, section.dataset.range, false);
  }

  function start() {
    document.documentElement.classList.add("mon-js");
    drawAll();
    arrange();
    markStale();
    window.setInterval(markStale, 1000);
    window.setInterval(refresh, REFRESH_MS);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
