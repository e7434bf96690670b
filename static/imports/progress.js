// Keeps an import's progress section up to date by polling its JSON endpoint.
// A static file (no inline script), so a Content-Security-Policy can forbid inline code.
(function () {
  "use strict";
  var section = document.getElementById("import-progress");
  if (!section) {
    return;
  }
  var url = section.dataset.progressUrl;
  var POLL_MS = 1000;

  function field(name) {
    return section.querySelector('[data-field="' + name + '"]');
  }

  function show(progress) {
    ["state_label", "done", "total", "added", "added_earlier", "refused", "failed",
     "unknown", "not_sent", "pace", "stop_reason", "single_posts"].forEach(function (name) {
      var element = field(name);
      if (element) {
        element.textContent = progress[name];
      }
    });
    field("seconds_left").textContent =
      progress.seconds_left === null ? "—" : progress.seconds_left + " s";
    var bar = field("bar");
    bar.style.width = progress.percent + "%";
    bar.textContent = progress.percent + " %";
    bar.parentElement.setAttribute("aria-valuenow", String(progress.percent));
    field("cancelling").hidden = !progress.cancelling;
    section.querySelectorAll("[data-hide-when-final]").forEach(function (element) {
      element.hidden = progress.final;
    });
    section.querySelectorAll("[data-show-when-final]").forEach(function (element) {
      element.hidden = !progress.final;
    });
    section.dataset.final = progress.final ? "true" : "false";
  }

  function poll() {
    fetch(url, {headers: {"Accept": "application/json"}, credentials: "same-origin"})
      .then(function (response) {
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.json();
      })
      .then(function (progress) {
        show(progress);
        if (!progress.final) {
          window.setTimeout(poll, POLL_MS);
        }
      })
      .catch(function () {
        // The server may be restarting: keep trying, a little slower.
        window.setTimeout(poll, POLL_MS * 3);
      });
  }

  var bar = field("bar");
  bar.style.width = bar.parentElement.getAttribute("aria-valuenow") + "%";
  if (section.dataset.final !== "true") {
    poll();
  }
})();
