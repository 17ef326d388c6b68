<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{title}} · wpbx</title>
<link rel="stylesheet" href="/static/style.css">
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header>
  <span class="brand">wpbx</span>
% if nav:
  <nav aria-label="Main menu"><ul>
  % for label, href, key in nav:
    % if label == "|":
    </ul></nav><nav aria-label="Tools" class="tools"><ul>
    % else:
    <li><a href="{{href}}"{{!' aria-current="page"' if key == section else ''}}>{{label}}</a></li>
    % end
  % end
  </ul></nav>
% end
% if me:
  <form method="post" action="/logout" class="logout">
    <input type="hidden" name="csrf" value="{{csrf}}">
    <span class="who">{{me.login or me.name}}</span> <button type="submit">Log out</button>
  </form>
% end
</header>
<main id="main">
<h1>{{title}}</h1>
% if flash:
<p class="flash" role="status">{{flash}}</p>
% end
{{!base}}
</main>
<footer>wpbx {{version}}</footer>
<script src="/static/app.js"></script>
</body>
</html>
