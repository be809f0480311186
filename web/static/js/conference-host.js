/* The host console: calls the control API, shows who is there, the plan, and the multi-view.
 * window.conferenceHost = { state, plan, refresh(), call(action, body) } for tests and the curious.
 */
(function () {
  "use strict";
  var root = document.getElementById("conference-host");
  if (!root) { return; }
  var d = root.dataset;
  var api = d.api;
  var names = JSON.parse(d.names || "{}");
  var labels = JSON.parse(d.labels || "{}");
  var csrf = (root.querySelector("input[name=csrf_token]") || {}).value || "";
  var message = document.getElementById("host-message");
  var host = { state: null, plan: null, sub: null, calls: 0 };
  window.conferenceHost = host;

  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) { e.textContent = text; }
    if (cls) { e.className = cls; }
    return e;
  }
  function name(site) { return site ? (names[site] || site) : "—"; }

  async function call(action, body) {
    var response = await fetch(api + "/" + action, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify(body || {})
    });
    var data = {};
    try { data = await response.json(); } catch (e) { data = { error: String(response.status) }; }
    host.calls += 1;
    if (!response.ok) {
      message.textContent = (labels.error || "Refused") + ": " + (data.error || response.status);
      message.className = "host-message error";
    } else {
      message.textContent = "";
      message.className = "host-message";
    }
    await refresh();
    return { status: response.status, data: data };
  }
  host.call = call;

  function button(text, handler, cls) {
    var b = el("button", text, cls);
    b.type = "button";
    b.addEventListener("click", handler);
    return b;
  }

  function renderSites(state) {
    var body = document.querySelector("#site-controls tbody");
    body.textContent = "";
    var c = state.controls;
    var views = state.layout_all || {};
    state.conference.sites.forEach(function (site) {
      var tr = el("tr");
      tr.dataset.site = site;
      var kind = state.presence[site] || "absent";
      var status = labels[kind === "joined" ? "live" : kind] || kind;
      if (state.speaker === site) { status += " · " + (labels.speaker || "speaking"); }
      if (c.muted.indexOf(site) >= 0) { status += " · " + (labels.muted || "muted"); tr.className = "muted"; }
      tr.appendChild(el("td", name(site)));
      tr.appendChild(el("td", status, "presence " + kind));
      tr.appendChild(el("td", name((views[site] || {}).main)));
      var td = el("td");
      var called = c.focus === site && c.mode === "rollcall";
      var broadcasting = c.focus === site && c.mode === "broadcast";
      td.appendChild(button(labels.rollcall || "Roll-call", function () {
        call("rollcall", { site: called ? null : site });
      }, "rollcall" + (called ? " on" : "")));
      td.appendChild(button(labels.broadcast || "Broadcast", function () {
        call("broadcast", { site: broadcasting ? null : site });
      }, "broadcast" + (broadcasting ? " on" : "")));
      var muted = c.muted.indexOf(site) >= 0;
      td.appendChild(button(muted ? (labels.unmute || "Unmute") : (labels.mute || "Mute"), function () {
        call("mute", { site: site, muted: !muted });
      }, "mute" + (muted ? " on" : "")));
      tr.appendChild(td);
      body.appendChild(tr);
    });
  }

  function renderEvents(state) {
    var list = document.getElementById("conf-events");
    list.textContent = "";
    state.events.slice(-12).reverse().forEach(function (e) {
      list.appendChild(el("li", e.at.slice(11, 19) + " " + name(e.site) + " " + (labels[e.kind === "joined" ? "live" : e.kind] || e.kind)));
    });
  }

  function renderCaptions(state) {
    var mine = (state.layout || {})[d.hostSite] || {};
    var main = document.getElementById("mv-main-label");
    if (main) { main.textContent = name(mine.main); }
    var caps = document.querySelectorAll(".mv-thumb figcaption");
    for (var i = 0; i < caps.length; i++) { caps[i].textContent = (mine.thumbs || [])[i] ? name(mine.thumbs[i]) : ""; }
  }

  async function refresh() {
    var response = await fetch(api + "/state", { credentials: "same-origin", headers: { "Accept": "application/json" } });
    if (!response.ok) { return; }
    var state = await response.json();
    host.state = state;
    var badge = document.getElementById("conf-state");
    badge.textContent = labels[state.conference.state] || state.conference.state;
    badge.className = "conf-state " + state.conference.state;
    root.dataset.state = state.conference.state;
    root.dataset.mode = state.controls.mode;
    root.dataset.focus = state.controls.focus || "";
    document.getElementById("conf-speaker").textContent = name(state.speaker);
    document.getElementById("conf-mode").textContent = (labels["mode_" + state.controls.mode] || state.controls.mode) + (state.controls.focus ? " · " + name(state.controls.focus) : "") +
      (state.controls.rotate_seconds ? " · ⟳ " + state.controls.rotate_seconds + " s" : "");
    document.getElementById("btn-start").disabled = state.conference.state !== "draft";
    document.getElementById("btn-end").disabled = state.conference.state === "ended";
    document.getElementById("grid-toggle").checked = state.controls.grid;
    renderSites(state);
    renderEvents(state);
    renderCaptions(state);
  }
  host.refresh = refresh;

  function cell(tr, text, cls) { tr.appendChild(el("td", text, cls)); }

  async function refreshPlan() {
    var response = await fetch(api + "/plan", { credentials: "same-origin", headers: { "Accept": "application/json" } });
    var box = document.getElementById("plan-box");
    var plan = await response.json();
    if (!response.ok) { box.textContent = plan.error || String(response.status); return; }
    host.plan = plan;
    var table = el("table", null, "grid conference-plan");
    table.id = "plan-sites";
    var head = el("tr");
    ["h_site", "h_link", "h_load", "h_quality", "h_streams", "h_kbps", "h_headroom"].forEach(function (h) { head.appendChild(el("th", labels[h] || h)); });
    var thead = el("thead"); thead.appendChild(head); table.appendChild(thead);
    var tbody = el("tbody");
    plan.sites.forEach(function (r) {
      var tr = el("tr");
      tr.dataset.site = r.site;
      if (r.headroom_kbps < r.link_kbps * 0.25) { tr.className = "tight"; }
      cell(tr, r.name);
      cell(tr, r.link_kbps.toLocaleString(), "num");
      cell(tr, Math.round(r.utilisation * 100) + " %", "num");
      cell(tr, r.video ? (labels[r.quality] || r.quality) : (labels.audio_only || "audio"), "");
      cell(tr, r.streams.video + " + " + r.streams.audio, "num");
      cell(tr, String(r.layout_kbps), "num");
      cell(tr, r.headroom_kbps.toLocaleString(), "num");
      tbody.appendChild(tr);
    });
    table.appendChild(tbody);
    var trunks = el("table", null, "grid conference-trunks");
    trunks.id = "plan-trunks";
    var th = el("tr");
    ["h_trunk", "h_streams", "h_kbps", "h_free"].forEach(function (h) { th.appendChild(el("th", labels[h] || h)); });
    trunks.appendChild(th);
    plan.trunks.forEach(function (t) {
      var tr = el("tr");
      cell(tr, name(t.from) + " → " + name(t.to));
      cell(tr, t.streams.map(name).join(", "));
      cell(tr, String(t.kbps), "num");
      cell(tr, t.available_kbps.toLocaleString(), "num");
      trunks.appendChild(tr);
    });
    box.textContent = "";
    box.appendChild(table);
    box.appendChild(trunks);
  }

  function attach(video, stream) {
    video.srcObject = stream;
    var p = video.play();
    if (p && p.catch) { p.catch(function () { /* autoplay refused */ }); }
  }

  async function watch() {
    var status = document.getElementById("watch-status");
    var C = window.WangnetConference;
    if (!C || !d.whep) { return; }
    if (host.sub) { await C.leave(host.sub, csrf); host.sub = null; status.textContent = ""; return; }
    status.textContent = "…";
    try {
      host.sub = await C.subscribe(d.whep, { csrf: csrf, thumbs: Number(d.thumbs) || 0, audios: Number(d.audios) || 0 });
      attach(document.getElementById("mv-main"), host.sub.main);
      var vids = document.querySelectorAll(".mv-thumb video");
      host.sub.thumbs.forEach(function (s, i) { if (vids[i]) { attach(vids[i], s); } });
      var box = document.getElementById("mv-audio");
      box.textContent = "";
      host.sub.audio.forEach(function (s) { var a = document.createElement("audio"); a.autoplay = true; box.appendChild(a); attach(a, s); });
      status.textContent = "✓";
    } catch (err) {
      status.textContent = String(err && err.message || err);
      host.sub = null;
    }
  }

  function on(id, handler) { var b = document.getElementById(id); if (b) { b.addEventListener("click", handler); } }
  on("btn-start", function () { call("start"); });
  on("btn-end", function () { call("end"); });
  on("btn-invite-tier", function () { call("invite", { tier: document.getElementById("invite-tier").value }); });
  on("btn-invite-banner", function () { call("invite", { banner: document.getElementById("invite-banner").value }); });
  on("btn-invite-site", function () { call("invite", { sites: [document.getElementById("invite-site").value] }); });
  on("btn-default", function () { call("rollcall", { site: null }); });
  on("btn-rotate", function () { call("rotate", { seconds: Number(document.getElementById("rotate-seconds").value) }); });
  on("btn-rotate-stop", function () { call("rotate", { seconds: 0 }); });
  on("btn-watch", watch);
  var grid = document.getElementById("grid-toggle");
  if (grid) { grid.addEventListener("change", function () { call("grid", { grid: grid.checked }); }); }
  window.addEventListener("pagehide", function () {
    if (host.sub && host.sub.resource) {
      fetch(host.sub.resource, { method: "DELETE", keepalive: true, credentials: "same-origin", headers: { "X-CSRFToken": csrf } });
    }
  });

  refresh();
  refreshPlan();
  setInterval(refresh, 2000);
  setInterval(refreshPlan, 10000);
})();
