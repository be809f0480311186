// Catalogue: confirm deletions, and keep progress bars of running ingest jobs moving.
(function () {
  "use strict";
  document.querySelectorAll("form.vod-delete").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(document.documentElement.lang === "en" ? "Delete this episode?" : "删除该节目？")) {
        event.preventDefault();
      }
    });
  });
  var bars = document.querySelectorAll("progress[data-job]");
  if (!bars.length) { return; }
  function refresh() {
    fetch("/api/v1/vod/jobs", { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.json(); })
      .then(function (rows) {
        var finished = false;
        bars.forEach(function (bar) {
          var job = rows.find(function (j) { return String(j.id) === bar.dataset.job; });
          if (!job) { return; }
          bar.value = job.progress;
          if (job.state === "done" || job.state === "failed") { finished = true; }
        });
        if (finished) { window.location.reload(); } else { setTimeout(refresh, 2000); }
      })
      .catch(function () { setTimeout(refresh, 5000); });
  }
  setTimeout(refresh, 2000);
})();
