// Keeps an import's page up to date by polling its progress JSON: the push's progress
// section (and that no worker is sending it, when none has taken it); or, while a worker checks a large file's rows, how many are checked (or that no
// worker has taken the check yet), opening the preview (reloading the page) once the check
// has ended. A static file (no inline script), so a Content-Security-Policy can forbid
// inline code.
(function () {
  "use strict";
  var POLL_MS = 1000;
  // Counts with their digits grouped as the page's language groups them ("60 000" in
  // Polish, "60,000" in English), as the server writes them (humanize's intcomma).
  var COUNT = new Intl.NumberFormat(document.documentElement.lang || undefined,
                                    {useGrouping: "always"});

  // Writes `text` into `element` only when it differs: a screen reader may read a live
  // region out again whenever its text is written, even the same text, every poll.
  function setText(element, text) {
    if (element.textContent !== text) {
      element.textContent = text;
    }
  }

  // Shows a share done (0-100) on a Bootstrap progress bar: its `box` and inner `bar`.
  function showShare(box, bar, percent) {
    bar.style.width = percent + "%";
    setText(bar, percent + " %");
    if (box.getAttribute("aria-valuenow") !== String(percent)) {
      box.setAttribute("aria-valuenow", String(percent));
    }
  }

  // Reads `url` every POLL_MS and hands each answer to `show`, until it returns false.
  function poll(url, show) {
    function ask() {
      fetch(url, {headers: {"Accept": "application/json"}, credentials: "same-origin"})
        .then(function (response) {
          if (!response.ok) {
            throw new Error("HTTP " + response.status);
          }
          return response.json();
        })
        .then(function (progress) {
          if (show(progress)) {
            window.setTimeout(ask, POLL_MS);
          }
        })
        .catch(function () {
          // The server may be restarting: keep trying, a little slower.
          window.setTimeout(ask, POLL_MS * 3);
        });
    }
    ask();
  }

  function followPush(section) {
    function field(name) {
      return section.querySelector('[data-field="' + name + '"]');
    }

    function show(progress) {
      ["state_label", "pace", "time_left", "stop_reason", "single_posts"].forEach(function (name) {
        var element = field(name);
        if (element) {
          setText(element, progress[name]);
        }
      });
      ["done", "total", "added", "added_earlier", "refused", "failed", "unknown",
       "not_sent", "listed_at_send"].forEach(function (name) {
        setText(field(name), COUNT.format(progress[name]));
      });
      var bar = field("bar");
      showShare(bar.parentElement, bar, progress.percent);
      field("cancelling").hidden = !progress.cancelling;
      field("waiting").hidden = !progress.waiting;
      section.querySelectorAll("[data-show-when-final]").forEach(function (element) {
        element.hidden = !progress.final;
      });
      section.querySelectorAll("[data-hide-when-final]").forEach(function (element) {
        // The keyboard on what the end hides (Cancel) moves to what it shows (the report's
        // link): else it falls to the page's top, and a screen reader loses its place.
        if (progress.final && element.contains(document.activeElement)) {
          section.querySelector("[data-show-when-final]").focus();
        }
        element.hidden = progress.final;
      });
      section.dataset.final = progress.final ? "true" : "false";
      return !progress.final;
    }

    var bar = field("bar");
    bar.style.width = bar.parentElement.getAttribute("aria-valuenow") + "%";
    if (section.dataset.final !== "true") {
      poll(section.dataset.progressUrl, show);
    }
  }

  function followCheck(section) {
    function field(name) {
      return section.querySelector('[data-field="' + name + '"]');
    }
    var share = field("share");
    var bar = field("bar");
    bar.style.width = share.getAttribute("aria-valuenow") + "%";
    poll(section.dataset.progressUrl, function (progress) {
      if (progress.state !== "checking") {
        window.location.reload();
        return false;
      }
      setText(field("checked"), COUNT.format(progress.checked));
      setText(field("expected"), COUNT.format(progress.expected));
      field("expected_part").hidden = !progress.expected;
      share.hidden = progress.percent === null;
      if (progress.percent !== null) {
        showShare(share, bar, progress.percent);
      }
      field("waiting").hidden = !progress.waiting;
      return true;
    });
  }

  var push = document.getElementById("import-progress");
  if (push) {
    followPush(push);
  }
  var check = document.getElementById("import-checking");
  if (check) {
    followCheck(check);
  }
})();
