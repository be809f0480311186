// Live 王 map: applies the server's state snapshot, then only the changes it streams.
(function () {
  "use strict";
  var svg = document.getElementById("wang-map");
  if (!svg || !window.EventSource) { return; }
  var stateEl = document.getElementById("live-state");
  var strip = document.getElementById("live-alerts");
  var names = {};
  svg.querySelectorAll("g.site").forEach(function (g) { names[g.getAttribute("data-site")] = g.getAttribute("aria-label"); });
  var STATES = ["up", "down", "unreachable", "degraded", "unknown"];

  function setState(el, state) {
    STATES.forEach(function (s) { el.classList.remove("state-" + s); });
    el.classList.add("state-" + state);
    el.setAttribute("data-state", state);
  }

  function applySites(sites) {
    Object.keys(sites).forEach(function (id) {
      var g = svg.querySelector('g.site[data-site="' + id + '"]');
      if (!g) { return; }
      setState(g, sites[id].state);
      g.classList.toggle("cut-off", !!sites[id].cut_off);
    });
  }

  function fmtBps(v) {
    if (v === null || v === undefined) { return "–"; }
    if (v >= 1e9) { return (v / 1e9).toFixed(2) + " Gbit/s"; }
    if (v >= 1e6) { return (v / 1e6).toFixed(1) + " Mbit/s"; }
    return (v / 1e3).toFixed(0) + " kbit/s";
  }

  function applyLinks(links) {
    Object.keys(links).forEach(function (id) {
      var line = svg.querySelector('line.link[data-link="' + id + '"]');
      if (!line) { return; }
      var l = links[id];
      setState(line, l.state);
      line.classList.toggle("root", !!l.root);
      var title = line.querySelector("title");
      if (title) {
        var base = title.getAttribute("data-base") || title.textContent;
        title.setAttribute("data-base", base);
        title.textContent = base + " · " + l.state + " · in " + fmtBps(l.in_bps) + " / out " + fmtBps(l.out_bps) +
          (l.utilisation !== null && l.utilisation !== undefined ? " · " + Math.round(l.utilisation * 100) + "%" : "") +
          (l.errors_per_s ? " · errors " + l.errors_per_s.toFixed(1) + "/s" : "");
      }
    });
  }

  function applyAlerts(alerts) {
    while (strip.firstChild) { strip.removeChild(strip.firstChild); }
    if (!alerts.length) {
      var ok = document.createElement("p");
      ok.className = "none";
      ok.textContent = strip.getAttribute("data-none");
      strip.appendChild(ok);
      return;
    }
    alerts.forEach(function (a) {
      var p = document.createElement("p");
      p.className = "alert " + a.severity;
      p.setAttribute("data-alert", a.key);
      var sites = a.cut_off_sites.map(function (s) { return names[s] || s; });
      p.textContent = a.kind + " " + a.subject.split("+").join(" + ") + " — " +
        (sites.length ? strip.getAttribute("data-cuts") + " " + sites.length + ": " + sites.join("、") : strip.getAttribute("data-nothing"));
      strip.appendChild(p);
    });
  }

  function apply(data) {
    if (data.sites) { applySites(data.sites); }
    if (data.links) { applyLinks(data.links); }
    if (data.alerts) { applyAlerts(data.alerts); }
    svg.setAttribute("data-live", "1");
  }

  var source = new EventSource("/api/v1/network/events");
  source.addEventListener("snapshot", function (ev) { apply(JSON.parse(ev.data)); stateEl.textContent = stateEl.getAttribute("data-live"); stateEl.className = "live-state on"; });
  source.addEventListener("changes", function (ev) { apply(JSON.parse(ev.data)); });
  source.onerror = function () { stateEl.textContent = stateEl.getAttribute("data-lost"); stateEl.className = "live-state off"; };
})();
