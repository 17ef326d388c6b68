// wpbx admin UI: optional conveniences; every page works without this file.
"use strict";
document.querySelectorAll("button[data-show]").forEach(function (button) {
  var input = document.getElementById(button.dataset.show);
  button.hidden = false;
  button.textContent = input.type === "password" ? "Show" : "Hide";
  button.addEventListener("click", function () {
    input.type = input.type === "password" ? "text" : "password";
    button.textContent = input.type === "password" ? "Show" : "Hide";
  });
});
document.querySelectorAll("button[data-generate]").forEach(function (button) {
  button.addEventListener("click", function (event) {
    event.preventDefault();
    fetch("/password/generate", { credentials: "same-origin" })
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.text(); })
      .then(function (password) {
        var input = document.getElementById(button.dataset.generate);
        input.value = password;
        input.type = "text";
        var show = input.parentNode.querySelector("button[data-show]");
        if (show) { show.textContent = "Hide"; }
        input.focus();
      })
      .catch(function () { button.form.requestSubmit(button); });
  });
});
var log = document.querySelector("[data-events]");
if (log && window.EventSource) {
  var source = new EventSource(log.dataset.events + "?after=" + log.dataset.after);
  ["started", "trace", "ended"].forEach(function (kind) {
    source.addEventListener(kind, function (event) {
      var item = document.createElement("li");
      var code = document.createElement("code");
      item.className = kind;
      code.textContent = event.data;
      item.appendChild(code);
      log.appendChild(item);
    });
  });
}
