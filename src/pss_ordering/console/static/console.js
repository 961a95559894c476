// Progressive enhancement only: every page works without this file.
// 1. Live refresh: a page with data-stamp polls its stamp (the order's version, or the
//    newest event the signed-in party may see) and, when it changes, replaces the
//    content of <main> with the page fetched anew, unless the user is typing in a form.
// 2. Order form: the characteristics of a chosen offering become required.
(function () {
  "use strict";
  var main = document.getElementById("main");
  var live = document.getElementById("live");
  var dirty = false;
  document.addEventListener("input", function () { dirty = true; });

  function typing() {
    var active = document.activeElement;
    return dirty || (active && main.contains(active) && /^(INPUT|TEXTAREA|SELECT)$/.test(active.tagName));
  }

  function announce(text) { if (live) { live.textContent = text; } }

  function refresh() {
    return fetch(window.location.href, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (!html) { return; }
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("main");
        if (!fresh) { return; }
        main.innerHTML = fresh.innerHTML;
        main.dataset.stamp = fresh.dataset.stamp || main.dataset.stamp;
        enhanceForms();
        announce("This page was updated.");
      });
  }

  function poll() {
    var every = Number(main.dataset.refresh || "2") * 1000;
    fetch(main.dataset.stampUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (body) {
        if (!body || String(body.stamp) === main.dataset.stamp) { return; }
        if (typing()) { announce("This page changed meanwhile; reload to see it."); return; }
        return refresh();
      })
      .catch(function () { /* offline for a moment: try again later */ })
      .then(function () { window.setTimeout(poll, every); });
  }

  function enhanceForms() {
    var boxes = document.querySelectorAll(".offering input[type=checkbox]");
    Array.prototype.forEach.call(boxes, function (box) {
      var sync = function () {
        var inputs = box.parentNode.querySelectorAll("input[data-required]");
        Array.prototype.forEach.call(inputs, function (input) { input.required = box.checked; });
      };
      box.addEventListener("change", sync);
      sync();
    });
  }

  enhanceForms();
  if (main && main.dataset.stampUrl) { window.setTimeout(poll, Number(main.dataset.refresh || "2") * 1000); }
})();
