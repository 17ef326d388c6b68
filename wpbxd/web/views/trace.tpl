% rebase('layout', title=title, nav=nav, me=me, csrf=csrf, flash=flash, section=section, version=version)
% include('dialplan_menu', current='/dialplan/trace')
<form method="get" action="/dialplan/trace" class="filters">
  {{!forms.text('from', 'Caller (extension or number)', values['from'], errors.get('from', ''), required=True)}}
  {{!forms.text('to', 'Called number', values['to'], errors.get('to', ''), required=True)}}
  {{!forms.select('procedure', 'Procedure', procs, values['procedure'], errors.get('procedure', ''))}}
  {{!forms.text('at', 'At (optional, YYYY-MM-DD HH:MM)', values['at'], errors.get('at', ''))}}
  <button type="submit" class="primary">Trace</button>
</form>
% if errors.get('_'):
<p class="error" role="alert">{{errors['_']}}</p>
% end
% if result:
<section class="card" aria-label="Trace">
<ol class="trace">
% for line in result['lines']:
<li><code>{{line}}</code></li>
% end
</ol>
<p><b>End:</b> {{result['end']}}{{(' (SIP ' + str(result['sip_code']) + ')') if result.get('sip_code') else ''}} {{result.get('reason') or ''}}</p>
</section>
% end
