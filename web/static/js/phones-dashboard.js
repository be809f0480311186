// Trial dashboard: refresh the counts and the map colours from the API every few seconds.
(function () {
  "use strict";
  var totals = document.getElementById("totals");
  if (!totals) { return; }
  var api = totals.dataset.api;
  var PERIOD_MS = 5000;
  var CLASSES = ["share-all", "share-most", "share-some", "share-zero", "share-none"];

  function time(iso) {
    return iso ? iso.replace("T", " ").slice(0, 19) : "—";
  }

  function fillRow(row, data) {
    if (!row) { return; }
    row.querySelectorAll("[data-k]").forEach(function (cell) {
      var key = cell.dataset.k;
      cell.textContent = key === "last_registered_at" ? time(data[key]) : String(data[key]);
    });
  }

  function apply(board) {
    var t = board.totals;
    document.getElementById("total-phones").textContent = t.phones;
    document.getElementById("total-registered").textContent = t.registered;
    document.getElementById("total-unregistered").textContent = t.unregistered;
    document.getElementById("total-disabled").textContent = t.disabled;
    document.getElementById("total-failed").textContent = t.failed_attempts;
    document.getElementById("total-last").textContent = time(t.last_registered_at);
    var missingRow = false;
    board.sites.forEach(function (s) {
      var g = document.querySelector('#phones-map g.site[data-site="' + s.site + '"]');
      if (g) {
        CLASSES.forEach(function (c) { g.classList.remove(c); });
        g.classList.add(s["class"]);
        var count = g.querySelector("text.count");
        if (count) { count.textContent = s.phones ? s.registered + "/" + s.enabled : ""; }
      }
      fillRow(document.querySelector('#banners tr[data-site="' + s.site + '"]'), s);
      var row = document.querySelector('#sites tr[data-site="' + s.site + '"]');
      if (row) { fillRow(row, s); } else if (s.phones) { missingRow = true; }
    });
    board.banners.forEach(function (b) {
      fillRow(document.querySelector('#banners tr[data-banner="' + b.site + '"]'), b);
    });
    totals.dataset.updated = String(Date.now());
    totals.classList.toggle("stale-rows", missingRow);
  }

  function poll() {
    fetch(api, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (r) { if (!r.ok) { throw new Error("HTTP " + r.status); } return r.json(); })
      .then(function (board) { apply(board); totals.classList.remove("offline"); })
      .catch(function () { totals.classList.add("offline"); })
      .finally(function () { setTimeout(poll, PERIOD_MS); });
  }
  setTimeout(poll, PERIOD_MS);
})();
