// The episode player: hls.js (from npm, served from /static/vendor/) with adaptive bitrate,
// resume where the viewer left off, and a heartbeat that feeds the viewing statistics.
(function () {
  "use strict";
  var video = document.getElementById("vod-video");
  if (!video) { return; }
  var status = document.getElementById("vod-status");
  var levelOut = document.getElementById("vod-level");
  var csrf = document.querySelector("input[name=csrf_token]");
  var state = { errors: [], levels: [], fragments: [], hls: null };
  window.vodPlayer = state;  // read by the end-to-end tests and handy in the console

  var resume = parseFloat(video.dataset.resume || "0") || 0;
  var src = video.dataset.src;

  function say(text) { if (status) { status.textContent = text; } }

  function showLevel(index) {
    if (!state.hls || index < 0) { return; }
    var level = state.hls.levels[index];
    if (!level) { return; }
    var label = level.height + "p · " + Math.round(level.bitrate / 1000) + " kbit/s";
    state.levels.push({ index: index, height: level.height, bitrate: level.bitrate });
    video.dataset.levelHeight = String(level.height);
    if (levelOut) { levelOut.textContent = label; }
  }

  if (window.Hls && window.Hls.isSupported()) {
    // startLevel -1: begin on the rung the bandwidth estimate allows (the lowest at first), not on the
    // first variant listed; a township on 2 Mbit/s must not begin with a 720p segment.
    // An episode still being converted has growing EVENT playlists, which hls.js treats as live and would
    // join near the newest segment: start it from the beginning (or the resume point) instead.
    var growing = video.dataset.growing === "1";
    var start = resume > 0 ? resume : (growing ? 0 : -1);
    var hls = new window.Hls({ enableWorker: false, startLevel: -1, startPosition: start });
    state.hls = hls;
    hls.on(window.Hls.Events.MANIFEST_PARSED, function (_e, data) {
      state.offered = data.levels.map(function (l) { return l.height; });
      var p = video.play();
      if (p && p.catch) { p.catch(function () { say(""); }); }
    });
    hls.on(window.Hls.Events.LEVEL_SWITCHED, function (_e, data) { showLevel(data.level); });
    hls.on(window.Hls.Events.FRAG_LOADED, function (_e, data) {
      state.fragments.push({ level: data.frag.level, sn: data.frag.sn, url: data.frag.url });
    });
    hls.on(window.Hls.Events.ERROR, function (_e, data) {
      state.errors.push({ type: data.type, details: data.details, fatal: !!data.fatal });
      if (!data.fatal) { return; }
      if (data.type === window.Hls.ErrorTypes.NETWORK_ERROR) {
        say(video.dataset.msgNetwork || "Network error, retrying…");
        hls.startLoad();
      } else if (data.type === window.Hls.ErrorTypes.MEDIA_ERROR) {
        hls.recoverMediaError();
      } else {
        say("Playback failed: " + data.details);
        hls.destroy();
      }
    });
    hls.loadSource(src);
    hls.attachMedia(video);
  } else if (video.canPlayType("application/vnd.apple.mpegurl")) {
    video.src = src;  // Safari plays HLS natively
    video.addEventListener("loadedmetadata", function () { if (resume > 0) { video.currentTime = resume; } });
  } else {
    say("This browser cannot play HLS video.");
    state.errors.push({ type: "unsupported", details: "no MSE and no native HLS", fatal: true });
  }
  video.addEventListener("error", function () {
    var e = video.error;
    state.errors.push({ type: "media", details: e ? String(e.code) + " " + (e.message || "") : "?", fatal: true });
  });

  // Watch time: only seconds that actually played count.
  var watched = 0;
  var lastTime = null;
  video.addEventListener("timeupdate", function () {
    var t = video.currentTime;
    if (lastTime !== null && !video.paused && !video.seeking) {
      var d = t - lastTime;
      if (d > 0 && d < 2) { watched += d; }
    }
    lastTime = t;
  });
  video.addEventListener("seeking", function () { lastTime = null; });

  var url = video.dataset.heartbeat;
  function report(useBeacon) {
    var body = new FormData();
    body.append("position", video.currentTime.toFixed(1));
    body.append("watched", watched.toFixed(1));
    if (csrf) { body.append("csrf_token", csrf.value); }
    watched = 0;
    if (useBeacon && navigator.sendBeacon) { navigator.sendBeacon(url, body); return; }
    fetch(url, { method: "POST", body: body, credentials: "same-origin" }).catch(function () {});
  }
  var every = (parseInt(video.dataset.heartbeatS || "10", 10) || 10) * 1000;
  setInterval(function () { if (!video.paused || watched > 0) { report(false); } }, every);
  video.addEventListener("pause", function () { report(false); });
  window.addEventListener("pagehide", function () { report(true); });
})();
