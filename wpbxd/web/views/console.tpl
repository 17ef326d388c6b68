% rebase('layout', title=title, nav=nav, me=me, csrf=csrf, flash=flash, section=section, version=version)
<link rel="stylesheet" href="/static/console.css">
<p>The console menu of the box (process {{pid}}). Click the screen (or tab to it) and type; Enter chooses. It ends when you log out, leave this page or stay idle.</p>
<pre id="screen" class="terminal" tabindex="0" role="log" aria-live="polite" aria-label="Console screen" data-events="/console/events" data-input="/console/input" data-close="/console/close" data-after="{{last}}" data-csrf="{{csrf}}">{{text}}</pre>
<form method="post" action="/console/input" class="bar" id="line-form">
  {{!forms.hidden('csrf', csrf)}}
  <label for="f-line">Send a line</label>
  <input id="f-line" name="line" type="text" autocomplete="off" spellcheck="false">
  <button type="submit">Send</button>
</form>
<form method="post" action="/console/close" class="bar">
  {{!forms.hidden('csrf', csrf)}}
  <button type="submit" class="danger">End console</button>
</form>
<script src="/static/console.js"></script>
