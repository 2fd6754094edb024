/* Progress bars of background jobs (duplicate scans, fix previews and applies).
 *
 * A page that shows one renders <div class="progress-box" data-status-url=... data-status=...>
 * holding a <progress>. This polls the URL (JSON: status, active, progress 0..1, label) and moves
 * the bar; when the status is no longer the one the page was drawn with, or the job stops, it
 * reloads the page, which the server then draws for the new state. An external file, because the
 * dashboard's Content-Security-Policy allows no inline script.
 */
(function () {
  "use strict";
  var box = document.querySelector(".progress-box[data-status-url]");
  if (!box) {
    return;
  }
  var bar = box.querySelector("progress");
  var figure = box.querySelector("[data-progress-text]");
  var label = box.querySelector("[data-progress-label]");
  var interval = 1000;
  var percent;
  try {
    percent = new Intl.NumberFormat(document.documentElement.lang || undefined, {style: "percent"});
  } catch (error) {
    percent = null;
  }

  function show(data) {
    var fraction = Math.max(0, Math.min(1, Number(data.progress) || 0));
    bar.value = Math.round(fraction * 100);
    figure.textContent = percent ? percent.format(fraction) : Math.round(fraction * 100) + "%";
    if (data.label) {
      label.textContent = data.label;
    }
  }

  function poll() {
    fetch(box.dataset.statusUrl, {credentials: "same-origin", cache: "no-store",
                                  headers: {"Accept": "application/json"}})
      .then(function (response) {
        if (!response.ok) {
          throw new Error("status " + response.status);
        }
        return response.json();
      })
      .then(function (data) {
        show(data);
        if (data.status !== box.dataset.status || !data.active) {
          window.setTimeout(function () { window.location.reload(); }, 300);
        } else {
          window.setTimeout(poll, interval);
        }
      })
      .catch(function () {
        // A network hiccup or a restarting server: keep asking, less often.
        window.setTimeout(poll, interval * 3);
      });
  }

  window.setTimeout(poll, interval / 2);
})();
