% rebase('layout', title=title, nav=nav, me=me, csrf=csrf, flash=flash, section=section, version=version)
<p><a href="/debug">Refresh</a> · the list refreshes itself every 5 s when scripts are on.</p>
<table class="list" id="live" data-refresh="5">
<caption>{{len(calls)}} live call(s)</caption>
<tbody>
% for c in calls:
<tr><td><pre>{{c}}</pre></td></tr>
% end
</tbody>
</table>
