% rebase('layout', title=title, nav=nav, me=me, csrf=csrf, flash=flash, section=section, version=version)
% include('dialplan_menu', current='/dialplan/groups')
% if problem.get('_'):
<p class="error" role="alert">{{problem['_']}}</p>
% end
<table class="list" id="groups">
<thead><tr><th scope="col">Group</th><th scope="col">Strategy</th><th scope="col">Ring time (s)</th><th scope="col">Timeout (s)</th><th scope="col">Members</th><th scope="col">Actions</th></tr></thead>
<tbody>
% for g in groups:
<tr><td>{{g['name']}}</td><td>{{g['strategy']}}</td><td>{{g['ring_time'] or ''}}</td><td>{{g['timeout'] or ''}}</td>
<td>{{', '.join(m['extension'] for m in g['members'])}}</td>
<td><a href="/dialplan/groups?edit={{g['name']}}" aria-label="Edit {{g['name']}}">Edit</a>
<form method="post" action="/dialplan/groups" class="inline">{{!forms.hidden('csrf', csrf)}}<button type="submit" name="delete" value="{{g['name']}}" aria-label="Delete {{g['name']}}">Delete</button></form></td></tr>
% end
</tbody>
</table>
<form method="post" action="/dialplan/groups" class="card narrow">
  {{!forms.hidden('csrf', csrf)}}
  <h2>{{'Edit' if values.get('name') and not problem else 'Add or change'}} a call group</h2>
  {{!forms.text('name', 'Name', values['name'], problem.get('name', ''), required=True)}}
  {{!forms.select('strategy', 'Strategy', [(s, s) for s in strategies], values['strategy'], problem.get('strategy', ''))}}
  {{!forms.text('ring_time', 'Ring time per member (s)', values['ring_time'], problem.get('ring_time', ''))}}
  {{!forms.text('timeout', 'Group timeout (s)', values['timeout'], problem.get('timeout', ''))}}
  {{!forms.checkbox('ring_in_use', 'Ring members already in a call', bool(values['ring_in_use']))}}
  {{!forms.text('members', 'Members in order (extensions, EXT:SECONDS for a ring time)', values['members'], problem.get('members', ''), hint='e.g. 201, 202:20, 203')}}
  <button type="submit" class="primary">Save group</button>
</form>
