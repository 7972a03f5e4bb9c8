// Live update of the console: every 5 s, fetch GET /api/console with the last
// ETag; a 304 costs nothing, a 200 replaces <main id="console">'s content.
// What an operator opened (a message's text, a step's output, the resolved
// incidents) stays open: every <details> in the fragment has a stable id.
// The page reads fully without this script.
(function () {
  "use strict";
  var main = document.getElementById("console");
  if (!main || !window.fetch) { return; }
  var url = main.getAttribute("data-poll");
  var etag = null;
  function openIds() {
    var ids = [];
    var found = main.querySelectorAll("details[open][id]");
    for (var i = 0; i < found.length; i++) { ids.push(found[i].id); }
    return ids;
  }
  function poll() {
    var headers = etag ? { "If-None-Match": etag } : {};
    fetch(url, { headers: headers, credentials: "same-origin" }).then(function (resp) {
      if (resp.status === 200) {
        etag = resp.headers.get("ETag");
        return resp.text().then(function (html) {
          var active = document.activeElement;
          if (active && main.contains(active) && active.form) { return; } // typing a note
          var open = openIds();
          main.innerHTML = html;
          for (var i = 0; i < open.length; i++) {
            var details = document.getElementById(open[i]);
            if (details) { details.open = true; }
          }
        });
      }
    }).catch(function () { /* the next poll tries again */ })
      .then(function () { window.setTimeout(poll, 5000); });
  }
  window.setTimeout(poll, 5000);
}());
