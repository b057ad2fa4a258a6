/*
 * The dashboard's live layer, on top of htmx and its websocket extension.
 *
 * - Every pushed message starts with <div id="ops-seq" data-seq="N">. A gap in N means a message
 *   was lost: ask the server for a fresh snapshot ({"type": "resync"}). Messages at or below the
 *   sequence of the latest snapshot are already part of it and are dropped.
 * - Pushed elements replace the element with the same id (htmx out-of-band swaps; table rows come
 *   inside <template>, the way htmx carries them). A job row that is not on the page yet is a new
 *   job: it goes on top of the table when this page shows the newest jobs and its filters match.
 *   Elements for other pages (a job's detail, a row of another page) are dropped quietly.
 * - While the socket is down the indicator says "Stale since HH:MM:SS" and every card polls its
 *   partial URL every 10 s; when the socket is back, the server's snapshot makes the page whole.
 * - A pushed or polled re-render of a card does not take away what the operator is doing in it:
 *   the control they are typing in or have changed (a drain timeout, a restore confirmation, a
 *   chosen file) and the last answer to a form ([data-ops-keep]) stay, moved into the new content
 *   with htmx's hx-preserve. The next answer to a form replaces the card as usual.
 */
(function () {
  "use strict";

  var POLL_EVERY_MS = 10000;
  var AUTO_RECONNECT_CODES = [1006, 1011, 1012, 1013]; // the extension reconnects after these itself

  var ops = (window.chlopsOps = {
    live: false,
    staleSince: null,
    lastSeq: null,
    socket: null,
    pollTimer: null,
    retries: 0,
    leaving: false,
  });

  function pad(n) {
    return (n < 10 ? "0" : "") + n;
  }

  function clock(date) {
    return pad(date.getHours()) + ":" + pad(date.getMinutes()) + ":" + pad(date.getSeconds());
  }

  function setIndicator(kind, text) {
    var el = document.getElementById("ops-live");
    if (!el) return;
    el.className = "ops-live ops-live-" + kind;
    el.querySelector(".ops-live-text").textContent = text;
  }

  function showLive() {
    ops.live = true;
    ops.staleSince = null;
    stopPolling();
    setIndicator("on", "Live");
  }

  function showStale() {
    ops.live = false;
    if (!ops.staleSince) ops.staleSince = new Date();
    setIndicator("stale", "Stale since " + clock(ops.staleSince) + " — live updates are down; refreshing every 10 s");
    startPolling();
  }

  function poll() {
    document.querySelectorAll("[data-ops-poll]").forEach(function (card) {
      htmx.trigger(card, "ops:poll");
    });
  }

  function startPolling() {
    if (!ops.pollTimer) ops.pollTimer = window.setInterval(poll, POLL_EVERY_MS);
  }

  function stopPolling() {
    window.clearInterval(ops.pollTimer);
    ops.pollTimer = null;
  }

  function resync() {
    if (ops.socket) ops.socket.send(JSON.stringify({ type: "resync" }));
  }

  function newestJobId(tbody) {
    var newest = 0;
    tbody.querySelectorAll("tr[data-job-id]").forEach(function (row) {
      newest = Math.max(newest, parseInt(row.dataset.jobId, 10));
    });
    return newest;
  }

  // A row the page does not have belongs on top only if it is newer than every row shown and matches the filters.
  function belongsOnTop(row) {
    var tbody = document.getElementById("jobs-tbody");
    if (!tbody || tbody.dataset.acceptNew !== "true") return false;
    if (tbody.dataset.filterState && tbody.dataset.filterState !== row.dataset.state) return false;
    if (tbody.dataset.filterType && tbody.dataset.filterType !== row.dataset.type) return false;
    return parseInt(row.dataset.jobId, 10) > newestJobId(tbody);
  }

  function acceptSeq(marker) {
    var seq = parseInt(marker.dataset.seq, 10);
    if (marker.hasAttribute("data-snapshot")) {
      ops.lastSeq = seq;
      return true;
    }
    if (ops.lastSeq !== null && seq <= ops.lastSeq) return false; // already in the latest snapshot
    if (ops.lastSeq !== null && seq !== ops.lastSeq + 1) resync();
    ops.lastSeq = seq;
    return true;
  }

  // Keep a pushed row: replace the one on the page, or put a new job on top; otherwise drop it.
  function keepRow(template) {
    var row = template.content.querySelector("tr[data-job-id]");
    if (!row) return false;
    if (document.getElementById(row.id)) return true;
    if (!belongsOnTop(row)) return false;
    var wrapper = document.createElement("tbody");
    wrapper.setAttribute("hx-swap-oob", "afterbegin:#jobs-tbody");
    row.removeAttribute("hx-swap-oob");
    template.content.insertBefore(wrapper, row);
    wrapper.appendChild(row);
    return true;
  }

  function applyMessage(text) {
    var holder = document.createElement("template");
    holder.innerHTML = text;
    var elements = Array.prototype.slice.call(holder.content.children);
    var marker = elements.find(function (el) {
      return el.id === "ops-seq";
    });
    if (marker) {
      marker.remove();
      if (!acceptSeq(marker)) return;
    }
    elements.forEach(function (el) {
      if (el === marker) return;
      var keep = el.tagName === "TEMPLATE" ? keepRow(el) : Boolean(el.id && document.getElementById(el.id));
      if (!keep) el.remove();
    });
    if (!holder.content.children.length) return;
    htmx.swap(document.body, holder.innerHTML, { swapStyle: "none" });
    trimTable();
  }

  function trimTable() {
    var tbody = document.getElementById("jobs-tbody");
    if (!tbody) return;
    var rows = tbody.querySelectorAll("tr[data-job-id]");
    if (rows.length) tbody.querySelectorAll("tr.ops-empty").forEach(function (row) { row.remove(); });
    var size = parseInt(tbody.dataset.pageSize || "25", 10);
    for (var i = size; i < rows.length; i++) rows[i].remove();
  }

  function touched(control) {
    if (control.type === "hidden" || control.type === "submit" || control.type === "button") return false;
    if (control === document.activeElement) return true;
    if (control.type === "file") return Boolean(control.files && control.files.length);
    if (control.type === "checkbox" || control.type === "radio") return control.checked !== control.defaultChecked;
    if (control.tagName === "SELECT") {
      return Array.prototype.some.call(control.options, function (option) {
        return option.selected !== option.defaultSelected;
      });
    }
    return control.value !== control.defaultValue;
  }

  // Mark, in content about to replace part of the page, what must stay as the page has it.
  function keepWhatTheOperatorHas(fresh) {
    fresh.querySelectorAll("[id]").forEach(function (twin) {
      var current = document.getElementById(twin.id);
      if (!current || current === twin) return;
      var keep = current.hasAttribute("data-ops-keep")
        ? current.childElementCount > 0 && twin.childElementCount === 0
        : /^(INPUT|SELECT|TEXTAREA)$/.test(current.tagName) && touched(current);
      if (keep) twin.setAttribute("hx-preserve", "true");
    });
  }

  document.addEventListener("htmx:oobBeforeSwap", function (event) {
    if (event.detail.fragment) keepWhatTheOperatorHas(event.detail.fragment);
  });

  document.addEventListener("htmx:beforeSwap", function (event) {
    var trigger = event.detail.requestConfig && event.detail.requestConfig.triggeringEvent;
    if (!event.detail.shouldSwap || !trigger || trigger.type !== "ops:poll") return;
    var holder = document.createElement("template");
    holder.innerHTML = event.detail.serverResponse;
    keepWhatTheOperatorHas(holder.content);
    event.detail.serverResponse = holder.innerHTML;
  });

  // The extension's default backoff grows to a minute; a dashboard should be back within seconds.
  htmx.config.wsReconnectDelay = function (retries) {
    return Math.min(10000, 500 * Math.pow(2, retries)) * (0.5 + Math.random() / 2);
  };

  // The extension swaps only top-level elements by id; this page needs the rules above instead.
  document.addEventListener("htmx:wsBeforeMessage", function (event) {
    event.preventDefault();
    var message = event.detail.message;
    if (typeof message === "string" && message.charAt(0) === "<") applyMessage(message);
  });

  document.addEventListener("htmx:wsOpen", function (event) {
    ops.socket = event.detail.socketWrapper;
    ops.retries = 0;
    showLive();
  });

  document.addEventListener("htmx:wsClose", function (event) {
    ops.socket = null;
    if (ops.leaving) return;
    showStale();
    var code = event.detail.event && event.detail.event.code;
    var wrapper = event.detail.socketWrapper;
    if (AUTO_RECONNECT_CODES.indexOf(code) < 0 && wrapper && wrapper.reconnect) {
      // A clean close (a server restart, a proxy) would otherwise end live updates for good.
      window.setTimeout(wrapper.reconnect, htmx.config.wsReconnectDelay(ops.retries));
      ops.retries += 1;
    }
  });

  // A job started or cancelled from this page shows its change at once even while the socket is down.
  document.addEventListener("ops:jobs-changed", function () {
    if (!ops.live) poll();
  });

  window.addEventListener("pagehide", function () {
    ops.leaving = true;
  });
})();
