% rebase('layout', title=title, nav=nav, me=me, csrf=csrf, flash=flash, section=section, version=version)
<p><a href="/trunks">Back to trunks</a></p>
<table class="list" id="groups">
<caption>{{len(groups)}} trunk group(s)</caption>
<thead><tr><th scope="col">Group</th><th scope="col">Trunks in order (strip / add / max calls / delay)</th><th scope="col">Actions</th></tr></thead>
<tbody>
% for g in groups:
<tr><td>{{g['name']}}</td>
<td>{{'; '.join('%s (%s / %s / %s / %ss)' % (m['trunk'], m['strip'], m['prepend'] or '-', m['max_calls'] or '-', m['delay']) for m in g['members'])}}</td>
<td><form method="post" action="/trunks/groups" class="inline">{{!forms.hidden('csrf', csrf)}}{{!forms.hidden('name', g['name'])}}
<button type="submit" name="action" value="delete" class="danger" aria-label="Delete trunk group {{g['name']}}">Delete</button></form></td></tr>
% end
</tbody>
</table>
<form method="post" action="/trunks/groups" class="card" novalidate>
  {{!forms.hidden('csrf', csrf)}}
  <h2>Add or replace a trunk group</h2>
  % if errors.get('_'):
  <p class="error" role="alert">{{errors['_']}}</p>
  % end
  {{!forms.text('name', 'Group name', name, errors.get('name', ''), required=True)}}
  % if errors.get('members'):
  <p class="error" id="f-members-err" role="alert">{{errors['members']}}</p>
  % end
  % for i, m in enumerate(members):
  <fieldset><legend>Member {{i + 1}}</legend>
  {{!forms.select('trunk%d' % i, 'Trunk', trunks, m['trunk'])}}
  {{!forms.text('strip%d' % i, 'Digits to strip', m['strip'])}}
  {{!forms.text('prepend%d' % i, 'Digits to add', m['prepend'])}}
  {{!forms.text('max_calls%d' % i, 'Max calls (0: the trunk\'s)', m['max_calls'])}}
  {{!forms.text('delay%d' % i, 'Delay before the next (s)', m['delay'])}}
  </fieldset>
  % end
  <button type="submit" class="primary">Save group</button>
</form>
