% rebase('layout', title=title, nav=nav, me=me, csrf=csrf, flash=flash, section=section, version=version)
<p><a href="/users">‹ Users</a> · The call classes the users of each group may call.</p>
% if error:
<p class="error" role="alert">{{error}}</p>
% end
% for g in groups:
<form method="post" action="/users/groups" class="card narrow entry">
  {{!forms.hidden('csrf', csrf)}}{{!forms.hidden('name', g['name'])}}
  <fieldset><legend>{{g['name']}}</legend>
  % for c in classes:
  <div class="field check"><input id="f-{{g['name']}}-{{c}}" name="allowed" type="checkbox" value="{{c}}"{{!' checked' if c in g['allowed'] else ''}}><label for="f-{{g['name']}}-{{c}}">{{c}}</label></div>
  % end
  </fieldset>
  <button type="submit" aria-label="Save group {{g['name']}}">Save</button>
</form>
% end
<form method="post" action="/users/groups" class="card narrow">
  {{!forms.hidden('csrf', csrf)}}
  <h2>Add a group</h2>
  {{!forms.text('name', 'Name', name, '', required=True, key='new-group')}}
  <fieldset><legend>Allowed call classes</legend>
  % for c in classes:
  <div class="field check"><input id="f-new-{{c}}" name="allowed" type="checkbox" value="{{c}}"><label for="f-new-{{c}}">{{c}}</label></div>
  % end
  </fieldset>
  <button type="submit" class="primary">Add group</button>
</form>
