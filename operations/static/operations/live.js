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
 * - Every action answers with a toast: views send an HX-Trigger "chlops:toast" {level, message}
 *   (operations/toasts.py); an answer without one that failed gets a toast from here. Success is
 *   announced politely, failure assertively; toasts leave by themselves, or by Escape or their button.
 * - hx-confirm opens the page's <dialog id="ops-confirm"> instead of window.confirm; the request goes
 *   only when the operator confirms, and focus returns to the control that asked.
 * - Nothing here needs eval or inline code: the page runs under a strict Content-Security-Policy.
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
    refreshing: false,
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
      if (ops.refreshing) refreshed(0);
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

  // --- Toasts ---------------------------------------------------------------------------------

  var TOAST_MS = { success: 6000, error: 12000 };
  var TOAST_EVENT = "chlops:toast";
  var focusBeforeToast = null;

  function toast(level, message) {
    var error = level === "error";
    var stack = document.getElementById(error ? "ops-toasts-assertive" : "ops-toasts-polite");
    if (!stack || !message) return null;
    var item = document.createElement("div");
    item.className = "ops-toast ops-toast-" + (error ? "error" : "success");
    var text = document.createElement("p");
    text.className = "ops-toast-text";
    text.textContent = message;
    var close = document.createElement("button");
    close.type = "button";
    close.className = "ops-toast-close";
    close.setAttribute("aria-label", "Dismiss");
    close.textContent = "×";
    close.addEventListener("click", function () {
      dismiss(item);
    });
    item.appendChild(text);
    item.appendChild(close);
    stack.appendChild(item);
    // A toast waits while the pointer or the focus is on it, so it can be read and reached (WCAG 2.2.1).
    var wait = TOAST_MS[error ? "error" : "success"];
    var timer = null;
    var start = function () {
      timer = window.setTimeout(function () {
        dismiss(item);
      }, wait);
    };
    var stop = function () {
      window.clearTimeout(timer);
    };
    item.addEventListener("mouseenter", stop);
    item.addEventListener("mouseleave", start);
    item.addEventListener("focusin", stop);
    item.addEventListener("focusout", function (event) {
      if (!item.contains(event.relatedTarget)) start();
    });
    start();
    return item;
  }

  function dismiss(item) {
    if (!item.isConnected) return;
    var hadFocus = item.contains(document.activeElement);
    item.remove();
    if (hadFocus) {
      var back = focusBeforeToast && focusBeforeToast.isConnected ? focusBeforeToast : document.getElementById("content-start");
      if (back) back.focus();
    }
  }

  function newestToast() {
    var toasts = document.querySelectorAll(".ops-toast");
    return toasts.length ? toasts[toasts.length - 1] : null;
  }

  document.addEventListener("focusin", function (event) {
    if (!event.target.closest || !event.target.closest(".ops-toasts")) focusBeforeToast = event.target;
  });

  function toastOf(xhr) {
    var header = xhr.getResponseHeader("HX-Trigger");
    if (!header || header.charAt(0) !== "{") return null;
    try {
      return JSON.parse(header)[TOAST_EVENT] || null;
    } catch (error) {
      return null;
    }
  }

  // The sentence of a short answer (a denial, say), or the status when the answer is a whole page.
  function failureText(xhr) {
    var holder = document.createElement("template");
    holder.innerHTML = xhr.responseText || "";
    var text = (holder.content.textContent || "").replace(/\s+/g, " ").trim();
    if (text && text.length <= 300) return text;
    return "That did not work: the server answered " + xhr.status + (xhr.statusText ? " " + xhr.statusText : "") + ". Try again, or reload the page.";
  }

  function answered(xhr, verb) {
    var told = toastOf(xhr);
    if (told) toast(told.level, told.message);
    else if (verb !== "get" && xhr.status >= 400) toast("error", failureText(xhr)); // every action has an outcome
  }

  function unanswered(verb) {
    if (verb === "get" || ops.leaving) return; // a poll says so in the live badge; leaving aborts on purpose
    toast("error", "The server could not be reached; the action may not have happened. Check that CHL Ops is running, reload the page and try again.");
  }

  // Read the answer from the request itself: htmx dispatches HX-Trigger events on the element that
  // asked, and a pushed update may have replaced that element (and cut it off the page) meanwhile.
  document.addEventListener("htmx:beforeSend", function (event) {
    var xhr = event.detail.xhr;
    var verb = event.detail.requestConfig && event.detail.requestConfig.verb;
    if (!xhr) return;
    xhr.addEventListener("load", function () { answered(xhr, verb); });
    xhr.addEventListener("error", function () { unanswered(verb); });
    xhr.addEventListener("timeout", function () { unanswered(verb); });
  });

  // --- Confirmations --------------------------------------------------------------------------

  var skipConfirm = null; // the control whose request the operator has just confirmed
  var pending = null; // the request the open dialog asks about: {detail, invoker}

  function confirmDialog(source) {
    var dialog = document.getElementById("ops-confirm");
    dialog.querySelector("#ops-confirm-title").textContent = source.dataset.confirmTitle || "Are you sure?";
    dialog.querySelector("#ops-confirm-message").textContent = source.getAttribute("hx-confirm");
    dialog.querySelector(".ops-dialog-confirm").textContent = source.dataset.confirmButton || "Confirm";
    dialog.querySelector(".ops-dialog-cancel").textContent = source.dataset.confirmDismiss || "Go back";
    return dialog;
  }

  // A pushed update may have replaced the control while the dialog was open: find its twin by id.
  function current(element) {
    if (element.isConnected || !element.id) return element;
    return document.getElementById(element.id) || element;
  }

  function settle(asked, confirmed) {
    var back = current(asked.invoker);
    if (back.isConnected) back.focus();
    if (!confirmed) return;
    var detail = asked.detail;
    var elt = current(detail.elt);
    if (elt === detail.elt) {
      detail.issueRequest(true);
    } else if (elt.isConnected) {
      // The same request from the control that replaced it; htmx.ajax needs no listener on it yet.
      skipConfirm = elt;
      htmx.ajax(detail.verb, detail.path, { source: elt, event: detail.triggeringEvent });
    } else {
      toast("error", "That control changed while you were deciding; nothing was done. Try again.");
    }
  }

  function dialogClosed(event) {
    var dialog = event.target;
    // A close event is queued; if the dialog has been opened again since, the opening settled it.
    if (dialog.open || !pending) return;
    var asked = pending;
    pending = null;
    settle(asked, dialog.returnValue === "confirm");
  }

  document.addEventListener("htmx:confirm", function (event) {
    var detail = event.detail;
    if (!detail.question) return;
    event.preventDefault();
    if (skipConfirm === detail.elt) {
      skipConfirm = null;
      detail.issueRequest(true);
      return;
    }
    var dialog = document.getElementById("ops-confirm");
    if (!dialog) {
      if (window.confirm(detail.question)) detail.issueRequest(true); // a page without the dialog
      return;
    }
    if (dialog.open) return; // one question at a time
    if (pending) {
      var earlier = pending;
      pending = null;
      settle(earlier, dialog.returnValue === "confirm");
    }
    var source = detail.elt.closest("[hx-confirm]") || detail.elt;
    var focused = document.activeElement;
    pending = { detail: detail, invoker: focused && focused !== document.body ? focused : detail.elt };
    confirmDialog(source).returnValue = "";
    dialog.showModal();
    dialog.querySelector(".ops-dialog-cancel").focus(); // the safe choice first; Tab reaches the action
  });

  // --- Refresh, heartbeat ages, onboarding ----------------------------------------------------

  function refreshed(failures) {
    ops.refreshing = false;
    var button = document.getElementById("ops-refresh");
    if (button) button.removeAttribute("aria-disabled");
    if (failures) toast("error", failures + " card" + (failures === 1 ? "" : "s") + " could not be refreshed; they stay as they were.");
    else toast("success", "Refreshed at " + clock(new Date()) + ".");
  }

  function refreshByPolling() {
    var waiting = document.querySelectorAll("[data-ops-poll]").length;
    var failures = 0;
    if (!waiting) return refreshed(0);
    var done = function (event) {
      var config = event.detail.requestConfig;
      if (!config || !config.triggeringEvent || config.triggeringEvent.type !== "ops:poll") return;
      if (event.detail.failed || (event.detail.xhr && event.detail.xhr.status >= 400)) failures += 1;
      waiting -= 1;
      if (waiting > 0) return;
      document.removeEventListener("htmx:afterRequest", done);
      refreshed(failures);
    };
    document.addEventListener("htmx:afterRequest", done);
    poll();
  }

  function refresh() {
    if (ops.refreshing) return;
    ops.refreshing = true;
    document.getElementById("ops-refresh").setAttribute("aria-disabled", "true");
    if (ops.live && ops.socket) resync(); // the server's snapshot of every card answers it
    else refreshByPolling();
  }

  // Heartbeat ages tick in the browser from each row's data-ops-age, so beats need not be pushed.
  window.setInterval(function () {
    var now = Date.now() / 1000;
    document.querySelectorAll("[data-ops-age]").forEach(function (el) {
      el.textContent = Math.max(0, Math.round(now - Number(el.dataset.opsAge))) + " s ago";
    });
  }, 1000);

  // The onboarding card stays as this user left it, in this browser (localStorage, keyed by user id).
  function rememberOnboarding() {
    var card = document.getElementById("ops-onboarding");
    if (!card) return;
    var key = "chlops.onboarding.closed." + card.dataset.opsUser;
    try {
      if (window.localStorage.getItem(key) === "true") card.open = false;
    } catch (error) {
      return; // storage refused (private mode): the card just opens every time
    }
    card.addEventListener("toggle", function () {
      window.localStorage.setItem(key, String(!card.open));
    });
  }

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape" || event.defaultPrevented) return;
    if (document.querySelector("dialog[open]")) return; // the dialog's own Escape cancels it
    var item = newestToast();
    if (item) dismiss(item);
  });

  function start() {
    rememberOnboarding();
    var dialog = document.getElementById("ops-confirm");
    if (dialog) dialog.addEventListener("close", dialogClosed);
    var button = document.getElementById("ops-refresh");
    if (button) {
      button.hidden = false;
      button.addEventListener("click", function () {
        if (button.getAttribute("aria-disabled") !== "true") refresh();
      });
    }
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();

  ops.toast = toast;
})();
