/* Alert banners as the viewer wants them (their alert preference, in <meta name="chlops-alert-preference">):
   banners render once for everyone, so each browser hides the ones of metrics and modules its user left
   out, and chimes for a new unacknowledged alert when the user turned the sound on — never before the
   user has interacted with the page (browsers refuse it anyway, and a page should not start making noise). */
(function () {
  "use strict";
  var meta = document.querySelector('meta[name="chlops-alert-preference"]');
  var preference = { metrics: [], modules: [], sound: false };
  try { if (meta) { preference = JSON.parse(meta.content); } } catch (e) { /* the default: every alert, no sound */ }
  var script = document.currentScript;
  var soundUrl = script ? script.src.replace(/alerts\.js(\?.*)?$/, "alert.wav") : "";
  var interacted = false;
  var heard = {};
  var started = false;

  function wanted(banner) {
    var metric = banner.getAttribute("data-metric") || "";
    var module = banner.getAttribute("data-module") || "";
    if (preference.metrics.length && metric && preference.metrics.indexOf(metric) < 0) { return false; }
    if (preference.modules.length && module && preference.modules.indexOf(module) < 0) { return false; }
    return true;
  }

  function chime() {
    if (!preference.sound || !interacted || !soundUrl) { return; }
    var audio = new Audio(soundUrl);
    var playing = audio.play();
    if (playing && playing.catch) { playing.catch(function () { /* the browser said no: stay quiet */ }); }
  }

  function apply() {
    var fresh = false;
    document.querySelectorAll(".alert-banner[data-alert]").forEach(function (banner) {
      var show = wanted(banner);
      if (banner.hidden === show) { banner.hidden = !show; }
      var id = banner.getAttribute("data-alert");
      if (show && !banner.querySelector("[data-alert-owner]") && !heard[id]) {
        heard[id] = true;
        fresh = started;  // the alerts already there when the page opened do not chime
      }
    });
    started = true;
    document.documentElement.setAttribute("data-alert-sound", preference.sound ? (interacted ? "armed" : "waiting") : "off");
    if (fresh) { chime(); }
  }

  function interact() {
    interacted = true;
    document.documentElement.setAttribute("data-alert-sound", preference.sound ? "armed" : "off");
  }

  function start() {
    apply();
    ["pointerdown", "keydown"].forEach(function (type) { document.addEventListener(type, interact, { once: true, capture: true }); });
    new MutationObserver(apply).observe(document.body, { childList: true, subtree: true });
  }

  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
})();
