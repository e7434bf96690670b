// While a worker checks a large import's rows: shows how many are checked (or that no
// worker has taken the check yet), and opens the preview (reloads the page) once the check
// has ended. A static file, as progress.js.
(function () {
  "use strict";
  var section = document.getElementById("import-checking");
  if (!section) {
    return;
  }
  var POLL_MS = 1000;
  var checked = section.querySelector('[data-field="checked"]');
  var waiting = section.querySelector('[data-field="waiting"]');

  function poll() {
    fetch(section.dataset.progressUrl,
          {headers: {"Accept": "application/json"}, credentials: "same-origin"})
      .then(function (response) {
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.json();
      })
      .then(function (progress) {
        if (progress.state !== "checking") {
          window.location.reload();
          return;
        }
        checked.textContent = progress.checked;
        waiting.hidden = !progress.waiting;
        window.setTimeout(poll, POLL_MS);
      })
      .catch(function () {
        // The server may be restarting: keep trying, a little slower.
        window.setTimeout(poll, POLL_MS * 3);
      });
  }

  window.setTimeout(poll, POLL_MS);
})();
