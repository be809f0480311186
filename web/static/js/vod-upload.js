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

  function show(label, fraction) {
    phase.textContent = label;
    bar.value = fraction;
    percent.textContent = Math.round(fraction * 100) + "%";
  }
  function fail(message) {
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
        if (job.state === "failed") { return fail(job.error); }
        if (job.state === "done") {
          show(texts.done, 1);
          doneLink.href = job.episode_url;
          done.hidden = false;
          return;
        }
        show(job.state === "queued" ? texts.queued : texts.running, job.progress);
        setTimeout(function () { poll(statusUrl); }, 1000);
      })
      .catch(function () { setTimeout(function () { poll(statusUrl); }, 2000); });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    errorOut.textContent = "";
    done.hidden = true;
    var file = form.elements.file.files[0];
    if (!file) { return; }
    if (file.size > parseInt(form.dataset.maxBytes, 10)) {
      box.hidden = false;
      return fail("file too large: " + (file.size / 1048576).toFixed(1) + " MB");
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
      if (xhr.status !== 201) { return fail(reply.error || ("HTTP " + xhr.status)); }
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
