% rebase('layout', title=title, nav=nav, me=me, csrf=csrf, flash=flash, section=section, version=version)
% include('dialplan_menu', current='/dialplan/timeranges')
% for r in ranges:
% key = r['name']
<section class="card entry" aria-label="Time range {{key}}">
<h3>{{key}} <a href="/dialplan/timeranges?edit={{key}}" aria-label="Edit {{key}}">Edit</a></h3>
<table class="week" aria-label="Opening hours of {{key}}">
<thead><tr><th scope="col">Day</th>
% for h in range(24):
<th scope="col">{{'%02d' % h}}</th>
% end
</tr></thead><tbody>
% for day, hours in cells(r['weekly']):
<tr><th scope="row">{{day}}</th>
% for h, is_open in enumerate(hours):
<td class="{{'open' if is_open else 'closed'}}" title="{{day}} {{'%02d' % h}}h: {{'open' if is_open else 'closed'}}"></td>
% end
</tr>
% end
</tbody></table>
% if r['exceptions']:
<p>Exceptions: {{'; '.join(e['date'] + ' ' + (', '.join(a + '-' + b for a, b in e.get('open', [])) or 'closed') for e in r['exceptions'])}}</p>
% end
% pe = problem.get('exception:' + key, '')
<form method="post" action="/dialplan/timeranges" class="inline-form">
  {{!forms.hidden('csrf', csrf)}}{{!forms.hidden('action', 'exception')}}{{!forms.hidden('name', key)}}
  {{!forms.text('date', 'Exception date', '', pe, kind='date', key='date-' + key)}}
  {{!forms.text('open', 'Open (empty = closed)', '', '', key='open-' + key, hint='e.g. 09:00-12:00')}}
  <button type="submit">Add exception</button>
</form>
<form method="post" action="/dialplan/timeranges" class="inline">{{!forms.hidden('csrf', csrf)}}{{!forms.hidden('action', 'delete')}}{{!forms.hidden('name', key)}}<button type="submit" class="danger" aria-label="Delete time range {{key}}">Delete</button></form>
% if problem.get('delete:' + key):
<p class="error" role="alert">{{problem['delete:' + key]}}</p>
% end
</section>
% end
<form method="post" action="/dialplan/timeranges" class="card narrow">
  {{!forms.hidden('csrf', csrf)}}{{!forms.hidden('action', 'set')}}
  <h2>Add or change a time range</h2>
  % if problem.get('_'):
  <p class="error" role="alert">{{problem['_']}}</p>
  % end
  {{!forms.text('name', 'Name', values['name'], problem.get('name', ''), required=True)}}
  {{!forms.text('weekly', 'Weekly opening hours', values['weekly'], problem.get('weekly', ''), hint='e.g. mon-fri 08:00-12:00,14:00-18:00; sat 09:00-12:00')}}
  <button type="submit" class="primary">Save time range</button>
</form>
