/* The site terminal: camera and microphone out (WHIP), main picture, thumbnails and audio in (WHEP).
 * Exposes window.conferenceTerminal for the end-to-end test (state, sessions, stats()).
 */
(function () {
  "use strict";
  var root = document.getElementById("conference-terminal");
  if (!root || !window.WangnetConference) { return; }
  var C = window.WangnetConference;
  var d = root.dataset;
  var labels = JSON.parse(d.labels || "{}");
  var csrf = (document.querySelector("input[name=csrf_token]") || {}).value || "";
  var statusEl = document.getElementById("terminal-status");
  var qualityEl = document.getElementById("terminal-quality");
  var joinBtn = document.getElementById("terminal-join");
  var leaveBtn = document.getElementById("terminal-leave");
  var state = { phase: "idle", error: null, pub: null, sub: null, camera: null, previous: null };
  window.conferenceTerminal = state;

  function show(phase, text) {
    state.phase = phase;
    root.dataset.phase = phase;
    statusEl.textContent = text || labels[phase] || phase;
  }

  function attach(el, stream) {
    el.srcObject = stream;
    var p = el.play();
    if (p && p.catch) { p.catch(function () { /* autoplay refused: the user clicks play */ }); }
  }

  async function join() {
    joinBtn.disabled = true;
    show("connecting");
    try {
      if (!state.camera) {
        state.camera = await navigator.mediaDevices.getUserMedia({
          audio: true,
          video: d.video === "1" ? { width: 160, height: 120, frameRate: 15 } : false
        });
        attach(document.getElementById("terminal-self"), state.camera);
      }
      state.pub = await C.publish(d.whip, state.camera, { csrf: csrf, maxKbps: Number(d.publishKbps) || 0 });
      state.sub = await C.subscribe(d.whep, { csrf: csrf, thumbs: Number(d.thumbs), audios: Number(d.audios) });
      attach(document.getElementById("terminal-main"), state.sub.main);
      var thumbEls = document.querySelectorAll(".terminal-thumb video");
      state.sub.thumbs.forEach(function (stream, i) { if (thumbEls[i]) { attach(thumbEls[i], stream); } });
      var audioBox = document.getElementById("terminal-audio");
      audioBox.textContent = "";
      state.sub.audio.forEach(function (stream) {
        var a = document.createElement("audio");
        a.autoplay = true;
        audioBox.appendChild(a);
        attach(a, stream);
      });
      [state.pub.pc, state.sub.pc].forEach(function (pc) {
        pc.addEventListener("connectionstatechange", function () {
          if (pc.connectionState === "failed") { show("failed"); }
        });
      });
      show("connected");
      leaveBtn.disabled = false;
    } catch (err) {
      state.error = String(err && err.message || err);
      show("failed", labels.failed + ": " + state.error);
      joinBtn.disabled = false;
    }
  }

  async function leave() {
    leaveBtn.disabled = true;
    var pub = state.pub, sub = state.sub;
    state.pub = state.sub = null;
    await Promise.all([C.leave(pub, csrf), C.leave(sub, csrf)]);
    show("left");
    joinBtn.disabled = false;
  }

  state.join = join;
  state.leave = leave;
  state.stats = function () { return state.sub ? C.inboundStats(state.sub.pc) : Promise.resolve({}); };

  setInterval(async function () {
    if (!state.sub) { qualityEl.textContent = "—"; return; }
    var q = await C.quality([state.sub.pc, state.pub && state.pub.pc], state.previous);
    state.previous = q;
    state.quality = q;
    var level = q.loss > 0.05 || (q.rtt !== null && q.rtt > 0.4) ? "poor" : (q.loss > 0.01 ? "fair" : "good");
    root.dataset.quality = level;
    qualityEl.textContent = "↓ " + q.kbpsIn.toFixed(0) + " kbit/s · ↑ " + q.kbpsOut.toFixed(0) + " kbit/s · " +
      (q.loss * 100).toFixed(1) + "% · " + (q.rtt === null ? "—" : (q.rtt * 1000).toFixed(0) + " ms");
    qualityEl.className = "terminal-quality " + level;
  }, 2000);

  joinBtn.addEventListener("click", join);
  leaveBtn.addEventListener("click", leave);
  window.addEventListener("pagehide", function () {
    [state.pub, state.sub].forEach(function (s) {
      if (s && s.resource) { fetch(s.resource, { method: "DELETE", keepalive: true, credentials: "same-origin", headers: { "X-CSRFToken": csrf } }); }
    });
  });
  if (d.state === "running") { join(); } else { show("idle", d.notRunning); joinBtn.disabled = false; }
})();
