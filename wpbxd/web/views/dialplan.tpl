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
% if switches:
<h2>Switches</h2>
<table class="list" id="switches">
<thead><tr><th scope="col">Switch</th><th scope="col">State</th><th scope="col">Set to</th></tr></thead>
<tbody>
% for s in switches:
<tr><td>{{s.get('name')}}</td><td>{{s.get('state')}}</td><td>
<form method="post" action="/dialplan/switch">{{!forms.hidden('csrf', csrf)}}{{!forms.hidden('name', str(s.get('name')))}}
% for state in switch_states.get(s.get('states'), ()):
% if state != s.get('state'):
<button type="submit" name="state" value="{{state}}">{{state}}</button>
% end
% end
</form></td></tr>
% end
</tbody>
</table>
% end
