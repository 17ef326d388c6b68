% rebase('layout', title=title, nav=nav, me=me, csrf=csrf, flash=flash, section=section, version=version)
<form method="get" action="/calls" class="filters">
  {{!forms.text('from', 'From', q['from'], errors.get('from', ''), kind='date')}}
  {{!forms.text('to', 'To', q['to'], errors.get('to', ''), kind='date')}}
  {{!forms.text('user', 'Number', q['user'], errors.get('user', ''))}}
  {{!forms.select('disposition', 'Disposition', [('', 'any')] + [(d, d.lower()) for d in dispositions], q['disposition'], errors.get('disposition', ''))}}
  <button type="submit">Filter</button>
  <a class="button" href="/calls.csv?{{query}}" download>Download CSV</a>
</form>
<figure class="chart">{{!chart}}<figcaption>Calls per hour on {{day.isoformat()}}</figcaption></figure>
<table class="list" id="calls">
<caption>{{total}} call(s)</caption>
<thead><tr><th scope="col">Start</th><th scope="col">Caller</th><th scope="col">Callee</th><th scope="col">Disposition</th><th scope="col">Duration (s)</th><th scope="col">Billed (s)</th></tr></thead>
<tbody>
% for r, start in rows:
<tr><td>{{start}}</td><td>{{r['caller_number']}} {{r['caller_name']}}</td><td>{{r['callee_number']}} {{r['callee_name']}}</td><td>{{r['disposition'].lower()}}</td><td>{{r['duration']}}</td><td>{{r['billsec']}}</td></tr>
% end
</tbody>
</table>
% if pages > 1:
<nav class="pages" aria-label="Pages">
  % if page_no > 1:
  <a href="/calls?{{query}}&amp;page={{page_no - 1}}">‹ Previous</a>
  % end
  <span>page {{page_no}} of {{pages}}</span>
  % if page_no < pages:
  <a href="/calls?{{query}}&amp;page={{page_no + 1}}">Next ›</a>
  % end
</nav>
% end
