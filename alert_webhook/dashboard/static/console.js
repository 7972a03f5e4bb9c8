// Live update of the console: every 5 s, fetch GET /api/console with the last
// ETag; a 304 costs nothing, a 200 replaces <main id="console">'s content.
// The page reads fully without this script.
(function () {
  "use strict";
  var main = document.getElementById("console");
  if (!main || !window.fetch) { return; }
  var url = main.getAttribute("data-poll");
  var etag = null;
  function poll() {
    var headers = etag ? { "If-None-Match": etag } : {};
    fetch(url, { headers: headers, credentials: "same-origin" }).then(function (resp) {
      if (resp.status === 200) {
        etag = resp.headers.get("ETag");
        return resp.text().then(function (html) {
          var open = main.querySelector("details#resolved[open]") !== null;
          var active = document.activeElement;
          if (active && main.contains(active) && active.form) { return; } // typing a note
          main.innerHTML = html;
          var details = main.querySelector("details#resolved");
          if (details && open) { details.open = true; }
        });
      }
    }).catch(function () { /* the next poll tries again */ })
      .then(function () { window.setTimeout(poll, 5000); });
  }
  window.setTimeout(poll, 5000);
}());
