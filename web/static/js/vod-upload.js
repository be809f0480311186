// Upload: the file goes as the raw request body (streamed to disk by the server, never a form in memory),
// with a progress bar for the upload and then for the conversion reported by ffmpeg.
(function () {
  "use strict";
  var form = document.getElementById("vod-upload");
  if (!form) { return; }
  var texts = document.getElementById("vod-texts").dataset;
  var box = document.getElementById("vod-progress");
  var bar = document.getElementById("vod-bar");
  var phase = document.getElementById("vod-phase");
  var percent = document.getElementById("vod-percent");
  var errorOut = document.getElementById("vod-upload-error");
  var done = document.getElementById("vod-done");
  var doneLink = document.getElementById("vod-done-link");
  var watchable = document.getElementById("vod-watchable");
  var watchableLink = document.getElementById("vod-watchable-link");

  function show(label, fraction) {
    phase.textContent = label;
    bar.value = fraction;
    percent.textContent = Math.round(fraction * 100) + "%";
  }
  function fail(message) {
    watchable.hidden = true;  // a job that fails is withdrawn, even if it could be watched a moment ago
    phase.textContent = texts.failed;
    errorOut.textContent = message;
    form.querySelector("button[type=submit]").disabled = false;
  }

  function poll(statusUrl) {
    fetch(statusUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.json(); })
      .then(function (rows) {
        var job = rows[0];
        if (!job) { return fail("job vanished"); }
        if (job.state === "failed") { return fail(job.message || job.error); }
        if (job.state === "done") {
          watchable.hidden = true;
          show(texts.done, 1);
          doneLink.href = job.episode_url;
          done.hidden = false;
          return;
        }
        if (job.watchable) {  // converting, but the first segments of every rung can already be played
          watchableLink.href = job.episode_url;
          watchable.hidden = false;
        }
        show(job.state === "queued" ? texts.queued : (job.watchable ? texts.watchable : texts.running), job.progress);
        setTimeout(function () { poll(statusUrl); }, 1000);
      })
      .catch(function () { setTimeout(function () { poll(statusUrl); }, 2000); });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    errorOut.textContent = "";
    done.hidden = true;
    watchable.hidden = true;
    var file = form.elements.file.files[0];
    if (!file) { return; }
    if (file.size > parseInt(form.dataset.maxBytes, 10)) {
      box.hidden = false;
      return fail(texts.tooLarge);
    }
    var params = new URLSearchParams();
    ["programme", "date", "title", "description", "tags"].forEach(function (name) {
      params.append(name, form.elements[name].value);
    });
    params.append("filename", file.name);
    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.action + "?" + params.toString());
    xhr.setRequestHeader("Content-Type", "application/octet-stream");
    xhr.setRequestHeader("X-CSRFToken", form.elements.csrf_token.value);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.addEventListener("progress", function (e) {
      if (e.lengthComputable) { show(texts.uploading, e.loaded / e.total); }
    });
    xhr.upload.addEventListener("load", function () { show(texts.checking, 1); });
    xhr.addEventListener("load", function () {
      var reply = {};
      try { reply = JSON.parse(xhr.responseText); } catch (e) { reply = { error: xhr.statusText }; }
      if (xhr.status !== 201) { return fail(reply.message || reply.error || ("HTTP " + xhr.status)); }
      show(texts.queued, 0);
      poll(reply.status_url);
    });
    xhr.addEventListener("error", function () { fail(texts.network); });
    box.hidden = false;
    form.querySelector("button[type=submit]").disabled = true;
    show(texts.uploading, 0);
    xhr.send(file);
  });
})();
