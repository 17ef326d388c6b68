% rebase('layout', title=title, nav=nav, me=me, csrf=csrf, flash=flash, section=section, version=version)
% include('settings_menu', groups=groups, group=group)
% if created:
<p class="flash" role="status">New token (shown only now): <code id="new-token">{{created}}</code></p>
% end
<table class="list">
<thead><tr><th scope="col">Name</th><th scope="col">Admin</th><th scope="col">Created</th><th scope="col">Last used</th><th scope="col">Action</th></tr></thead>
<tbody>
% for t in items:
<tr><td>{{t.name}}</td><td>{{owners.get(t.user_id, t.user_id)}}</td><td>{{fmt_time(t.created_at)}}</td><td>{{fmt_time(t.last_used)}}</td>
<td><form method="post">{{!forms.hidden('csrf', csrf)}}<button type="submit" name="revoke" value="{{t.id}}" aria-label="Revoke {{t.name}}">Revoke</button></form></td></tr>
% end
</tbody>
</table>
<form method="post" class="card narrow">
  {{!forms.hidden('csrf', csrf)}}
  {{!forms.text('name', 'Token name', name, error, required=True)}}
  <button type="submit" class="primary">Create token</button>
</form>
