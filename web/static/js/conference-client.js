/* wangnet conference client: WHIP publish, WHEP subscribe, getStats helpers.
 *
 * window.WangnetConference = { publish, subscribe, leave, inboundStats, quality }
 * Signalling is one HTTP POST of a complete offer (candidates gathered first,
 * no trickle), answered with 201 + Location; DELETE on the Location leaves.
 * A WHEP offer is recvonly: 1 video "main", then N thumbnail videos, then M
 * audios — the bridge binds them in that order to what the layout says.
 */
(function () {
  "use strict";

  function gathered(pc, ms) {
    if (pc.iceGatheringState === "complete") { return Promise.resolve(); }
    return new Promise(function (resolve) {
      var done = function () {
        if (pc.iceGatheringState === "complete") { pc.removeEventListener("icegatheringstatechange", done); resolve(); }
      };
      pc.addEventListener("icegatheringstatechange", done);
      setTimeout(resolve, ms || 5000);
    });
  }

  async function negotiate(pc, url, csrf) {
    await pc.setLocalDescription(await pc.createOffer());
    await gathered(pc, 5000);
    var response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/sdp", "X-CSRFToken": csrf || "" },
      body: pc.localDescription.sdp
    });
    var text = await response.text();
    if (response.status !== 201) {
      var message = text;
      try { message = JSON.parse(text).error || text; } catch (e) { /* plain text */ }
      throw new Error(response.status + ": " + message);
    }
    await pc.setRemoteDescription({ type: "answer", sdp: text });
    return response.headers.get("Location");
  }

  /* Publish a camera/microphone MediaStream; opts.maxKbps caps the video. */
  async function publish(url, stream, opts) {
    opts = opts || {};
    var pc = new RTCPeerConnection({ iceServers: [] });
    stream.getTracks().forEach(function (track) {
      var init = { direction: "sendonly", streams: [stream] };
      if (track.kind === "video" && opts.maxKbps) { init.sendEncodings = [{ maxBitrate: opts.maxKbps * 1000 }]; }
      pc.addTransceiver(track, init);
    });
    var resource = await negotiate(pc, url, opts.csrf);
    return { pc: pc, resource: resource, kind: "publish" };
  }

  /* Receive: returns {pc, resource, main, thumbs: [MediaStream], audio: [MediaStream]}. */
  async function subscribe(url, opts) {
    opts = opts || {};
    var thumbs = opts.thumbs || 0, audios = opts.audios === undefined ? 3 : opts.audios;
    var pc = new RTCPeerConnection({ iceServers: [] });
    var main = pc.addTransceiver("video", { direction: "recvonly" });
    var thumbTs = [], audioTs = [];
    for (var i = 0; i < thumbs; i++) { thumbTs.push(pc.addTransceiver("video", { direction: "recvonly" })); }
    for (var j = 0; j < audios; j++) { audioTs.push(pc.addTransceiver("audio", { direction: "recvonly" })); }
    var resource = await negotiate(pc, url, opts.csrf);
    var wrap = function (t) { return new MediaStream([t.receiver.track]); };
    return { pc: pc, resource: resource, kind: "subscribe", main: wrap(main), thumbs: thumbTs.map(wrap), audio: audioTs.map(wrap), mids: {
      main: main.mid, thumbs: thumbTs.map(function (t) { return t.mid; }), audio: audioTs.map(function (t) { return t.mid; })
    } };
  }

  async function leave(session, csrf) {
    if (!session) { return; }
    try {
      if (session.resource) {
        await fetch(session.resource, { method: "DELETE", credentials: "same-origin", headers: { "X-CSRFToken": csrf || "" } });
      }
    } finally {
      session.pc.close();
    }
  }

  /* inbound-rtp figures keyed by mid: framesDecoded, bytesReceived, packetsLost, packetsReceived, totalAudioEnergy. */
  async function inboundStats(pc) {
    var out = {};
    var report = await pc.getStats();
    report.forEach(function (s) {
      if (s.type === "inbound-rtp") {
        out[s.mid] = {
          kind: s.kind, framesDecoded: s.framesDecoded || 0, bytesReceived: s.bytesReceived || 0,
          packetsLost: s.packetsLost || 0, packetsReceived: s.packetsReceived || 0,
          totalAudioEnergy: s.totalAudioEnergy || 0, audioLevel: s.audioLevel || 0,
          frameWidth: s.frameWidth || 0, frameHeight: s.frameHeight || 0, jitter: s.jitter || 0
        };
      }
    });
    return out;
  }

  /* Connection quality since the previous call: kbit/s in and out, loss share, round-trip time. */
  async function quality(pcs, previous) {
    var now = performance.now(), bytesIn = 0, bytesOut = 0, lost = 0, received = 0, rtt = null;
    for (var k = 0; k < pcs.length; k++) {
      if (!pcs[k]) { continue; }
      var report = await pcs[k].getStats();
      report.forEach(function (s) {
        if (s.type === "inbound-rtp") { bytesIn += s.bytesReceived || 0; lost += s.packetsLost || 0; received += s.packetsReceived || 0; }
        if (s.type === "outbound-rtp") { bytesOut += s.bytesSent || 0; }
        if (s.type === "candidate-pair" && s.nominated && s.currentRoundTripTime !== undefined) { rtt = s.currentRoundTripTime; }
      });
    }
    var q = { at: now, bytesIn: bytesIn, bytesOut: bytesOut, lost: lost, received: received, rtt: rtt, kbpsIn: 0, kbpsOut: 0, loss: 0 };
    if (previous) {
      var dt = (now - previous.at) / 1000;
      if (dt > 0) {
        q.kbpsIn = Math.max(0, (bytesIn - previous.bytesIn) * 8 / 1000 / dt);
        q.kbpsOut = Math.max(0, (bytesOut - previous.bytesOut) * 8 / 1000 / dt);
      }
      var dl = lost - previous.lost, dr = received - previous.received;
      q.loss = dl + dr > 0 ? Math.max(0, dl) / (dl + dr) : 0;
    }
    return q;
  }

  window.WangnetConference = { publish: publish, subscribe: subscribe, leave: leave, inboundStats: inboundStats, quality: quality };
})();
