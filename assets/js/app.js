// Small enhancements on top of pages that work without JavaScript. No inline script anywhere:
// the CSP forbids it.
(function () {
  "use strict";

  // Inline validation: the wrapper of a step's fields posts on `change`; tell the server which
  // field changed, so it answers with that field's messages only.
  document.addEventListener("htmx:configRequest", function (e) {
    var ev = e.detail.triggeringEvent;
    var t = ev && ev.target;
    if (t && t.id && e.detail.path.slice(-9) === "/verifica") {
      e.detail.headers["X-Campo"] = t.id;
    }
  });

  // Upload progress on the attachments step.
  document.addEventListener("htmx:xhr:progress", function (e) {
    var bar = document.getElementById("avanzamento-caricamento");
    if (bar && e.detail.lengthComputable) {
      bar.hidden = false;
      bar.value = Math.round((e.detail.loaded / e.detail.total) * 100);
    }
  });
})();
