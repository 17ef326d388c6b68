% rebase('layout', title=title, nav=nav, me=me, csrf=csrf, flash=flash, section=section, version=version)
<p><a href="/trunks/pricelists">All price lists</a></p>
<table class="list" id="rates">
<caption>{{total}} rate(s)</caption>
<thead><tr><th scope="col">Line</th><th scope="col">Prefix</th><th scope="col">Destination</th><th scope="col">Rate / min</th><th scope="col">Min. duration (s)</th><th scope="col">Block (s)</th><th scope="col">Connect charge</th><th scope="col">Days</th><th scope="col">Hours</th></tr></thead>
<tbody>
% for r in rates:
<tr><td>{{r['line']}}</td><td>{{r['dialprefix']}}</td><td>{{r['destination']}}</td><td>{{'%g' % r['rate']}}</td><td>{{r['min_duration']}}</td><td>{{r['billing_block']}}</td><td>{{'%g' % r['connect_charge']}}</td>
<td>{{r['start_day']}}–{{r['stop_day']}}</td><td>{{'%02d:%02d' % divmod(r['start_time'] // 60, 60)}}–{{'%02d:%02d' % divmod(min(r['stop_time'], 86399) // 60, 60)}}</td></tr>
% end
</tbody>
</table>
% if pages > 1:
<nav class="pages" aria-label="Pages">
  % if page_no > 1:
  <a href="/trunks/pricelists/{{name}}?page={{page_no - 1}}">‹ Previous</a>
  % end
  <span>page {{page_no}} of {{pages}}</span>
  % if page_no < pages:
  <a href="/trunks/pricelists/{{name}}?page={{page_no + 1}}">Next ›</a>
  % end
</nav>
% end
