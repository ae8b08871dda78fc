/* creneau: small progressive enhancements. Every page works without this file. */
(function () {
  "use strict";

  var POLL_MS = 2000;
  var GIVE_UP_MS = 30 * 60 * 1000;
  var BUSY = { syncing: true, pending: true };

  /* Confirmation dialogs: a form with data-confirm asks first, then posts confirmed=yes; without
     JavaScript the same form leads to a confirmation page instead. */
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement)) { return; }
    var question = form.getAttribute("data-confirm");
    if (!question) { return; }
    if (!window.confirm(question)) { event.preventDefault(); return; }
    if (!form.querySelector('input[name="confirmed"]')) {
      var input = document.createElement("input");
      input.type = "hidden";
      input.name = "confirmed";
      input.value = "yes";
      form.appendChild(input);
    }
  });

  function stateOf(account) {
    if (account.status === "ok" && !account.last_sync_at) { return "pending"; }
    return account.status;
  }

  function show(box, element, account) {
    var state = stateOf(account);
    var badge = element.querySelector('[data-role="badge"]');
    if (badge) {
      badge.textContent = box.getAttribute("data-label-" + state) || state;
      badge.className = "badge badge-" + state;
    }
    var progress = element.querySelector('[data-role="progress"]');
    var bar = element.querySelector('[data-role="bar"]');
    var count = element.querySelector('[data-role="count"]');
    if (progress) { progress.hidden = !BUSY[state]; }
    if (bar && account.progress.total > 0) {
      bar.max = account.progress.total;
      bar.value = account.progress.done;
    }
    if (count && account.progress.total > 0) {
      count.textContent = account.progress.done + "/" + account.progress.total;
    }
    return state;
  }

  /* Sync progress: while an account syncs, ask the API every 2 s; when a sync ends, reload the page so
     that its calendars, counts and errors are shown as the server renders them. */
  function poll(box) {
    var started = Date.now();
    function tick() {
      fetch(box.getAttribute("data-api"), { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) {
          if (!response.ok) { throw new Error("HTTP " + response.status); }
          return response.json();
        })
        .then(function (data) {
          var busy = false;
          var finished = false;
          data.accounts.forEach(function (account) {
            var element = box.querySelector('[data-account-id="' + account.id + '"]');
            if (!element) { return; }
            var before = element.getAttribute("data-state");
            var after = show(box, element, account);
            element.setAttribute("data-state", after);
            if (BUSY[after]) { busy = true; } else if (BUSY[before]) { finished = true; }
          });
          if (finished) { window.location.reload(); return; }
          if (busy && Date.now() - started < GIVE_UP_MS) { window.setTimeout(tick, POLL_MS); }
        })
        .catch(function () { window.setTimeout(tick, POLL_MS * 5); });
    }
    window.setTimeout(tick, POLL_MS);
  }

  document.addEventListener("DOMContentLoaded", function () {
    var box = document.getElementById("accounts");
    if (box && box.getAttribute("data-poll") === "on") { poll(box); }
  });

  /* Booking page: show the slots in the participant's own time zone, as the browser knows it, unless they
     chose one (the select stays changeable; without JavaScript the session's zone is shown). */
  var tzForm = document.getElementById("tz-form");
  if (tzForm && tzForm.getAttribute("data-auto-timezone") === "on" && window.Intl) {
    var browserZone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    var select = document.getElementById("tz-select");
    if (browserZone && select && select.value !== browserZone) {
      for (var i = 0; i < select.options.length; i++) {
        if (select.options[i].value === browserZone) {
          select.value = browserZone;
          tzForm.submit();
          break;
        }
      }
    }
  }
})();
