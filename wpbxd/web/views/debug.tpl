% rebase('layout', title=title, nav=nav, me=me, csrf=csrf, flash=flash, section=section, version=version)
<p><a href="/debug">Refresh</a> · with scripts on, new lines appear by themselves. Dialplan paths: <a href="/dialplan/trace">trace a call</a>.</p>
<table class="list" id="live">
<caption>{{len(calls)}} live call(s)</caption>
<thead><tr><th scope="col">Caller</th><th scope="col">Called</th><th scope="col">Callee</th><th scope="col">State</th><th scope="col">Duration (s)</th><th scope="col">Codec</th><th scope="col">Media</th></tr></thead>
<tbody>
% for c in calls:
<tr><td>{{c.get('caller', '')}} {{c.get('caller_name', '')}}</td><td>{{c.get('called', '')}}</td><td>{{c.get('callee', '')}}</td>
<td>{{c.get('state', '')}}</td><td>{{c.get('duration', '')}}</td><td>{{c.get('codec', '')}}</td>
<td>{{'; '.join(', '.join(f'{k} {v}' for k, v in m.items()) for m in c.get('media') or [] if isinstance(m, dict))}}</td></tr>
% end
</tbody>
</table>
<h2>Call log</h2>
<ol class="log" id="log" data-events="/debug/events" data-after="{{last}}" aria-live="polite">
% for line, stamp in lines:
<li class="{{line.kind}}"><code>{{stamp}} {{line.call_id}} {{line.text}}</code></li>
% end
</ol>
