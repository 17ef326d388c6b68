% rebase('layout', title=title, nav=nav, me=me, csrf=csrf, flash=flash, section=section, version=version)
<div class="bar">
  <a class="button primary" href="/users/new">+ Add user</a>
  % if acl:
  <a class="button" href="/users/groups">Groups</a>
  % end
  % if me.is_super_admin:
  <a class="button" href="/users/import">Import CSV</a>
  <a class="button" href="/users/export.csv" download>Export CSV</a>
  % end
  <form method="get" action="/users" role="search" class="search">
    <label for="f-q">Search</label>
    <input id="f-q" name="q" type="search" value="{{search}}">
    <button type="submit">Search</button>
  </form>
</div>
<table class="list" id="users">
<caption>{{total}} user(s){{' matching “' + search + '”' if search else ''}}</caption>
<thead><tr><th scope="col">Type</th><th scope="col">Status</th><th scope="col">Extension</th><th scope="col">Name</th><th scope="col">Email</th><th scope="col">Department</th><th scope="col">Group</th><th scope="col">Actions</th></tr></thead>
<tbody>
% for u, online, manage in rows:
<tr>
  <td>{{u.type}}</td>
  <td><span class="dot {{'on' if online else 'off'}}" title="{{'registered' if online else 'not registered'}}"></span><span class="sr">{{'registered' if online else 'not registered'}}</span></td>
  <td>{{u.extension or ''}}</td>
  <td>{{u.name}}</td>
  <td>{{u.email or ''}}</td>
  <td>{{u.department}}</td>
  <td>{{u.acl_group}}</td>
  <td class="actions">
  % if manage:
    <a href="/users/{{u.id}}/edit" aria-label="Edit {{u.name}}">Edit</a>
    <a href="/users/{{u.id}}/passwords" aria-label="Set passwords of {{u.name}}">Passwords</a>
    % if prefs and u.extension:
    <a href="/users/{{u.id}}/preferences" aria-label="Preferences of {{u.name}}">Preferences</a>
    % end
    % if not u.is_super_admin:
    <a href="/users/{{u.id}}/delete" aria-label="Delete {{u.name}}">Delete</a>
    % end
  % end
  </td>
</tr>
% end
</tbody>
</table>
% if pages > 1:
<nav class="pages" aria-label="Pages">
  % if page_no > 1:
  <a href="/users?q={{search}}&amp;page={{page_no - 1}}">‹ Previous</a>
  % end
  <span>page {{page_no}} of {{pages}}</span>
  % if page_no < pages:
  <a href="/users?q={{search}}&amp;page={{page_no + 1}}">Next ›</a>
  % end
</nav>
% end
