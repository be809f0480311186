// Device page: one interface's traffic over the last hour/day/week, drawn with uPlot from
// /api/v1/devices/<id>/interfaces/<ifname>/traffic?range=...  (no inline script: CSP).
(function () {
  "use strict";
  var section = document.getElementById("traffic");
  if (!section || typeof uPlot === "undefined") { return; }
  var select = document.getElementById("traffic-if");
  var holder = document.getElementById("traffic-chart");
  var source = document.getElementById("traffic-source");
  var buttons = section.querySelectorAll("button[data-range]");
  var range = "hour";
  var chart = null;
  var request = 0;

  function mbps(v) { return v === null || v === undefined ? null : v / 1e6; }

  function setState(state, points) {
    holder.setAttribute("data-state", state);
    holder.setAttribute("data-points", String(points));
  }

  function draw(data) {
    var p = data.points;
    var series = [p.ts, p.in_bps.map(mbps), p.out_bps.map(mbps)];
    var labels = [{}, {label: holder.dataset.labelIn, stroke: "#1f6fb2", width: 2},
                  {label: holder.dataset.labelOut, stroke: "#c2410c", width: 2}];
    if (data.resolution > 0 && data.source === "store") {  // rollups also carry the maxima
      series.push(p.in_max.map(mbps), p.out_max.map(mbps));
      labels.push({label: holder.dataset.labelInMax, stroke: "#93c5fd", dash: [4, 4]},
                  {label: holder.dataset.labelOutMax, stroke: "#fdba74", dash: [4, 4]});
    }
    if (chart) { chart.destroy(); chart = null; }
    holder.textContent = "";
    if (!p.ts.length) {
      holder.textContent = holder.dataset.empty;
      setState("empty", 0);
      return;
    }
    var width = Math.max(holder.clientWidth - 16, 320);
    chart = new uPlot({
      width: width,
      height: 240,
      series: labels,
      axes: [{}, {label: "Mbit/s"}],
      scales: {x: {time: true, range: [data.from, data.to]}},
    }, series, holder);
    setState("drawn", p.ts.length);
  }

  function load() {
    if (!select.value) { return; }
    var mine = ++request;
    setState("loading", 0);
    var url = section.dataset.base + encodeURIComponent(select.value) + "/traffic?range=" + range;
    fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) { if (!r.ok) { throw new Error("HTTP " + r.status); } return r.json(); })
      .then(function (data) {
        if (mine !== request) { return; }
        source.textContent = data.source + (data.warning ? " — " + data.warning : "");
        draw(data);
      })
      .catch(function (err) {
        if (mine !== request) { return; }
        holder.textContent = String(err);
        setState("error", 0);
      });
  }

  buttons.forEach(function (b) {
    b.addEventListener("click", function () {
      range = b.dataset.range;
      buttons.forEach(function (x) { x.classList.toggle("current", x === b); });
      load();
    });
  });
  select.addEventListener("change", load);
  load();
})();
