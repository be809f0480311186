// Phone registry pages: confirmation of destructive actions, and saving the one-time passwords as a file.
(function () {
  "use strict";
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.dataset.confirm)) {
        event.preventDefault();
      }
    });
  });
  var save = document.getElementById("save-passwords");
  var text = document.getElementById("passwords-csv");
  if (save && text) {
    save.addEventListener("click", function () {
      // The passwords never leave the browser again: the file is made here from the page itself.
      var blob = new Blob(["\ufeff" + text.value], { type: "text/csv;charset=utf-8" });
      var url = URL.createObjectURL(blob);
      var a = document.createElement("a");
      a.href = url;
      a.download = save.dataset.filename || "phone-passwords.csv";
      document.body.appendChild(a);
      a.click();
      a.remove();
      setTimeout(function () { URL.revokeObjectURL(url); }, 1000);
    });
  }
})();
