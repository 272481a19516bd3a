// Mission control's live pages. A task's page, while the task runs, asks every second for events newer than the
// last one shown; when there are any (or the status changed), it fetches the page's live part again and swaps it
// in. The home page, while a task runs, swaps in its list every 2 s. No reload, no framework, no other origin.
(function () {
  "use strict";
  var root = document.getElementById("live");
  document.addEventListener("click", function (e) {
    var button = e.target.closest && e.target.closest("button.copy");
    if (button && navigator.clipboard) {
      navigator.clipboard.writeText(button.dataset.copy).then(function () { button.textContent = "copied"; });
    }
  });
  var home = document.getElementById("home");
  if (home && home.dataset.refresh === "yes") {
    // The list while tasks run: the same page again every 2 s, its list swapped in, until none runs.
    var refresh = function () {
      fetch(location.href, {cache: "no-store"}).then(function (r) { return r.text(); }).then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("home");
        if (fresh) { home.innerHTML = fresh.innerHTML; home.dataset.refresh = fresh.dataset.refresh; }
      }).catch(function () {}).then(function () {
        if (home.dataset.refresh === "yes") setTimeout(refresh, 2000);
      });
    };
    setTimeout(refresh, 2000);
  }
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
