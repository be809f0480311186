// The 王 map: clicking a site shows its devices and links from the topology API.
(function () {
  "use strict";
  var svg = document.getElementById("wang-map");
  var panel = document.getElementById("site-panel");
  if (!svg || !panel) { return; }
  var selected = null;

  function cell(row, text) {
    var td = document.createElement("td");
    td.textContent = text === null || text === undefined ? "" : String(text);
    row.appendChild(td);
  }

  function fill(tbody, rows, columns) {
    while (tbody.firstChild) { tbody.removeChild(tbody.firstChild); }
    rows.forEach(function (r) {
      var tr = document.createElement("tr");
      columns.forEach(function (c) { cell(tr, typeof c === "function" ? c(r) : r[c]); });
      tbody.appendChild(tr);
    });
  }

  function show(site) {
    document.getElementById("panel-title").textContent = site.name;
    document.getElementById("panel-sub").textContent = site.name_en + " · " + site.tier + " · LAN " + site.lan;
    var devBody = document.querySelector("#panel-devices tbody");
    fill(devBody, site.devices, ["id", "role", "platform", "model", "mgmt"]);
    devBody.querySelectorAll("tr").forEach(function (tr) {
      var td = tr.firstChild;
      var a = document.createElement("a");
      a.href = "/network/devices/" + encodeURIComponent(td.textContent);
      a.textContent = td.textContent;
      td.textContent = "";
      td.appendChild(a);
    });
    fill(document.querySelector("#panel-links tbody"), site.links, [
      "id",
      function (l) { return l.a_site === site.id ? l.b_site : l.a_site; },
      "speed_mbps",
      "medium",
    ]);
    var depts = document.getElementById("panel-depts");
    while (depts.firstChild) { depts.removeChild(depts.firstChild); }
    site.departments.forEach(function (d) {
      var li = document.createElement("li");
      li.textContent = d;
      depts.appendChild(li);
    });
    document.getElementById("panel-depts-h").hidden = site.departments.length === 0;
    panel.hidden = false;
    panel.dataset.site = site.id;
  }

  function select(node) {
    if (selected) { selected.classList.remove("selected"); }
    selected = node;
    node.classList.add("selected");
    var id = node.getAttribute("data-site");
    fetch("/api/v1/sites/" + encodeURIComponent(id), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) {
        if (!r.ok) { throw new Error(r.status + " " + r.statusText); }
        return r.json();
      })
      .then(show)
      .catch(function (err) {
        document.getElementById("panel-title").textContent = id;
        document.getElementById("panel-sub").textContent = String(err);
        panel.hidden = false;
      });
  }

  svg.addEventListener("click", function (ev) {
    var node = ev.target.closest ? ev.target.closest("g.site") : null;
    if (node) { select(node); }
  });
  svg.addEventListener("keydown", function (ev) {
    if (ev.key !== "Enter" && ev.key !== " ") { return; }
    var node = ev.target.closest ? ev.target.closest("g.site") : null;
    if (node) { ev.preventDefault(); select(node); }
  });
  document.getElementById("panel-close").addEventListener("click", function () {
    panel.hidden = true;
    if (selected) { selected.classList.remove("selected"); selected = null; }
  });
})();
