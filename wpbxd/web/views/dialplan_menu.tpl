<nav class="sub" aria-label="Dialplan sections"><ul>
% for href, label in (('/dialplan', 'Procedures'), ('/dialplan/groups', 'Call groups'), ('/dialplan/timeranges', 'Time ranges'), ('/dialplan/trace', 'Trace')):
<li><a href="{{href}}"{{!' aria-current="page"' if href == current else ''}}>{{label}}</a></li>
% end
</ul></nav>
