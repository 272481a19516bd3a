// Mission control's live task page: while the task runs, ask every second for events newer than the last one
// shown; when there are any (or the status changed), fetch the page's live part again and swap it in. No reload,
// no framework, nothing from another origin.
(function () {
  "use strict";
  var root = document.getElementById("live");
  document.addEventListener("click", function (e) {
    var button = e.target.closest && e.target.closest("button.copy");
    if (button && navigator.clipboard) {
      navigator.clipboard.writeText(button.dataset.copy).then(function () { button.textContent = "copied"; });
    }
  });
  if (!root || root.dataset.live !== "yes") return;
  var base = root.dataset.base;
  var last = root.dataset.last;
  var status = root.dataset.status;
  var busy = false;

  function swap() {
    return fetch(base + "/live", {cache: "no-store"}).then(function (r) {
      if (!r.ok) throw new Error(r.status);
      return r.text();
    }).then(function (html) {
      root.innerHTML = html;
      var part = root.querySelector(".live-part");
      if (part) { last = part.dataset.last; status = part.dataset.status; }
      root.dataset.last = last;
      root.dataset.status = status;
    });
  }

  function tick() {
    if (busy) return;
    busy = true;
    fetch(base + "/events.json?after=" + encodeURIComponent(last), {cache: "no-store"}).then(function (r) {
      if (!r.ok) throw new Error(r.status);
      return r.json();
    }).then(function (data) {
      if (data.events.length || data.status !== status) return swap();
    }).catch(function () { /* the server stopped or restarted: try again next second */ }).then(function () {
      busy = false;
      if (status === "running" || status === "pending") {
        setTimeout(tick, 1000);
      } else {
        root.dataset.live = "no";
        var pulse = root.querySelector(".pulse");
        if (pulse) pulse.remove();
      }
    });
  }
  setTimeout(tick, 1000);
})();
