// The web console: output from Server-Sent Events, keys sent as small POSTs (console.tpl).
"use strict";
(function () {
  var screen = document.getElementById("screen");
  if (!screen || !window.EventSource || !window.fetch) { return; }
  var lineForm = document.getElementById("line-form");
  var queue = "", sending = false;
  function put(text) {
    var out = screen.textContent;
    for (var i = 0; i < text.length; i++) {
      var c = text[i];
      if (c === "\b") { if (out.length && out[out.length - 1] !== "\n") { out = out.slice(0, -1); } }
      else { out += c; }
    }
    screen.textContent = out;
    screen.scrollTop = screen.scrollHeight;
  }
  function flush() {
    if (sending || !queue) { return; }
    var body = new URLSearchParams({ csrf: screen.dataset.csrf, keys: queue });
    queue = ""; sending = true;
    fetch(screen.dataset.input, { method: "POST", body: body, credentials: "same-origin" })
      .finally(function () { sending = false; flush(); });
  }
  var keys = { Enter: "\r", Backspace: "\x7f", Tab: "\t", Escape: "\x1b",
               ArrowUp: "\x1b[A", ArrowDown: "\x1b[B", ArrowRight: "\x1b[C", ArrowLeft: "\x1b[D" };
  screen.addEventListener("keydown", function (event) {
    var text = null;
    if (event.ctrlKey && event.key.length === 1 && /[a-z]/i.test(event.key)) {
      text = String.fromCharCode(event.key.toUpperCase().charCodeAt(0) - 64);
    } else if (keys[event.key]) { text = keys[event.key]; }
    else if (event.key.length === 1 && !event.altKey && !event.metaKey) { text = event.key; }
    if (text === null) { return; }
    event.preventDefault();
    queue += text; flush();
  });
  screen.addEventListener("paste", function (event) {
    event.preventDefault();
    queue += (event.clipboardData.getData("text") || "").replace(/\n/g, "\r"); flush();
  });
  var source = new EventSource(screen.dataset.events + "?after=" + screen.dataset.after);
  source.onmessage = function (event) { put(JSON.parse(event.data)); };
  source.addEventListener("end", function () { source.close(); });
  if (lineForm) { lineForm.hidden = true; }
  screen.focus();
  window.addEventListener("pagehide", function () {
    source.close();
    navigator.sendBeacon(screen.dataset.close, new URLSearchParams({ csrf: screen.dataset.csrf, beacon: "1" }));
  });
})();
