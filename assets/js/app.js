// Small enhancements on top of pages that work without JavaScript. No inline script anywhere:
// the CSP forbids it. Loaded (deferred) by every page's layout, after htmx.
(function () {
  "use strict";

  var ERRORE = "-errore";

  // The message area of a control: every field rendered by our components names it, last, in
  // the `aria-describedby` of the control itself or of its fieldset (radio groups).
  function messageArea(control) {
    var owner = control && control.closest ? control.closest("[aria-describedby]") : null;
    if (!owner) {
      return null;
    }
    var ids = owner.getAttribute("aria-describedby").split(/\s+/);
    for (var i = 0; i < ids.length; i++) {
      var id = ids[i];
      if (id.length > ERRORE.length && id.slice(-ERRORE.length) === ERRORE && document.getElementById(id)) {
        return id;
      }
    }
    return null;
  }

  // Inline validation: the wrapper of a step's fields posts on `change` to `…/verifica`. Tell
  // the server whose message area to fill (`X-Campo`); it answers with that area only, as an
  // out-of-band swap, so the target always exists on the page. A control without an area (none
  // today) still saves the step, and the server answers 204.
  document.addEventListener("htmx:configRequest", function (e) {
    if (e.detail.path.slice(-9) !== "/verifica") {
      return;
    }
    var ev = e.detail.triggeringEvent;
    var area = messageArea(ev && ev.target);
    if (area) {
      e.detail.headers["X-Campo"] = area.slice(0, -ERRORE.length);
    }
  });

  // A message area just filled: the controls it describes are marked invalid while it holds an
  // error (red border and `aria-invalid`, as on a page rendered by the server), and no longer
  // once it is corrected. Radio groups and checkboxes carry no invalid state of their own.
  document.addEventListener("htmx:oobAfterSwap", function (e) {
    var area = e.detail.target;
    if (!area || !area.id || area.id.slice(-ERRORE.length) !== ERRORE) {
      return;
    }
    var invalid = area.querySelector(".campo-errore") !== null;
    var controls = document.querySelectorAll("input, select, textarea");
    for (var i = 0; i < controls.length; i++) {
      var c = controls[i];
      var described = (c.getAttribute("aria-describedby") || "").split(/\s+/);
      if (described.indexOf(area.id) < 0 || c.type === "radio" || c.type === "checkbox") {
        continue;
      }
      c.classList.toggle("is-invalid", invalid);
      if (invalid) {
        c.setAttribute("aria-invalid", "true");
      } else {
        c.removeAttribute("aria-invalid");
      }
    }
  });

  // Upload progress on the attachments step: the bar shows while the file travels.
  function progressBar() {
    return document.getElementById("avanzamento-caricamento");
  }
  document.addEventListener("htmx:xhr:loadstart", function () {
    var bar = progressBar();
    if (bar) {
      bar.value = 0;
      bar.hidden = false;
    }
  });
  document.addEventListener("htmx:xhr:progress", function (e) {
    var bar = progressBar();
    if (bar && e.detail.lengthComputable && e.detail.total > 0) {
      bar.hidden = false;
      bar.value = Math.round((e.detail.loaded / e.detail.total) * 100);
    }
  });

  // The outcome of what the person just did takes the focus (and so comes into view and is
  // read out), wherever the page was scrolled: the result of an upload sits in the upload card,
  // not at the top of the page. Once: the marker goes, so later swaps (inline validation, live
  // updates) leave the focus where the person put it. Without JavaScript the form's action
  // points at the same element (`#id` in its URL), which the browser scrolls to.
  function focusOutcome() {
    var outcome = document.querySelector("[data-esito]");
    if (outcome) {
      outcome.removeAttribute("data-esito");
      // At the top of the screen (less its scroll-margin), so that what follows it (the form
      // to try again) is in view too; focus alone would scroll it just inside the bottom edge.
      outcome.focus({ preventScroll: true });
      outcome.scrollIntoView({ block: "start" });
    }
  }
  document.addEventListener("htmx:afterSettle", focusOutcome);
  focusOutcome();
})();
