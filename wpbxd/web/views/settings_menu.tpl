<nav class="sub" aria-label="Settings sections"><ul>
% for g, t in groups:
<li><a href="/settings/{{g}}"{{!' aria-current="page"' if g == group else ''}}>{{t}}</a></li>
% end
<li><a href="/settings/api-tokens"{{!' aria-current="page"' if group == 'api-tokens' else ''}}>API tokens</a></li>
</ul></nav>
