% rebase('layout', title=title, nav=nav, me=me, csrf=csrf, flash=flash, section=section, version=version)
% include('dialplan_menu', current='/dialplan')
<table class="list" id="procedures">
<caption>Procedures</caption>
<thead><tr><th scope="col">Name</th><th scope="col">Description</th><th scope="col">Numbers</th><th scope="col">Includes</th></tr></thead>
<tbody>
% for p in procedures:
<tr><td><a href="/dialplan/p/{{p['name']}}">{{p['name']}}</a></td><td>{{p['description']}}</td><td>{{p['entries']}}</td><td>{{p['includes']}}</td></tr>
% end
</tbody>
</table>
<form method="post" action="/dialplan" class="card narrow">
  {{!forms.hidden('csrf', csrf)}}
  <h2>Add a procedure</h2>
  {{!forms.text('name', 'Name', values.get('name', ''), problem.get('name', ''), required=True)}}
  {{!forms.text('description', 'Description', values.get('description', ''), problem.get('description', ''))}}
  <button type="submit" class="primary">Add procedure</button>
</form>
<h2>Switches</h2>
% if problem.get('switch'):
<p class="error" role="alert">{{problem['switch']}}</p>
% end
% if switches:
<table class="list" id="switches">
<thead><tr><th scope="col">Switch</th><th scope="col">State</th><th scope="col">Set to</th><th scope="col">Action</th></tr></thead>
<tbody>
% for s in switches:
<tr><td>{{s.get('name')}}</td><td><b>{{s.get('state')}}</b></td><td>
<form method="post" action="/dialplan/switch" class="inline">{{!forms.hidden('csrf', csrf)}}{{!forms.hidden('name', str(s.get('name')))}}
% for state in switch_states.get(s.get('states'), ()):
% if state != s.get('state'):
<button type="submit" name="state" value="{{state}}" aria-label="Set {{s.get('name')}} to {{state}}">{{state}}</button>
% end
% end
</form></td>
<td><form method="post" action="/dialplan/switch" class="inline">{{!forms.hidden('csrf', csrf)}}{{!forms.hidden('name', str(s.get('name')))}}{{!forms.hidden('action', 'delete')}}<button type="submit" aria-label="Delete switch {{s.get('name')}}">Delete</button></form></td></tr>
% end
</tbody>
</table>
% end
<form method="post" action="/dialplan/switch" class="card narrow">
  {{!forms.hidden('csrf', csrf)}}{{!forms.hidden('action', 'add')}}
  <h3>Add a switch</h3>
  {{!forms.text('name', 'Switch name', values.get('switch_name', ''), problem.get('switch_name', ''), required=True, key='switch-name')}}
  {{!forms.select('states', 'States', [('2', '2 states (on / off)'), ('3', '3 states (on / off / extra)')], '2', problem.get('switch_states', ''))}}
  <button type="submit">Add switch</button>
</form>
