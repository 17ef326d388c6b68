% rebase('layout', title=title, nav=nav, me=me, csrf=csrf, flash=flash, section=section, version=version)
<div class="bar">
  <a class="button primary" href="/trunks/new">+ Add trunk</a>
  <a class="button" href="/trunks/groups">Trunk groups</a>
  <a class="button" href="/trunks/pricelists">Price lists</a>
  <a class="button" href="/trunks">Refresh</a>
</div>
% if not live:
<p class="note">The SIP service is not running: live status is not available.</p>
% end
<table class="list" id="trunks">
<caption>{{len(rows)}} trunk(s)</caption>
<thead><tr><th scope="col">Status</th><th scope="col">Name</th><th scope="col">Title</th><th scope="col">Host</th><th scope="col">Login</th><th scope="col">Calls</th><th scope="col">Price list</th><th scope="col">Actions</th></tr></thead>
<tbody>
% for t, css, words, state in rows:
<tr>
  <td><span class="dot {{css}}" aria-hidden="true"></span> <span class="status">{{words}}</span></td>
  <td>{{t['name']}}</td>
  <td>{{t['title']}}</td>
  <td>{{t['host']}}</td>
  <td>{{t['login']}}</td>
  <td>{{state.get('calls', '')}}{{('/' + str(t['max_calls'])) if t['max_calls'] else ''}}</td>
  <td>{{t['price_list'] or ''}}</td>
  <td class="actions"><a href="/trunks/edit/{{t['name']}}" aria-label="Edit trunk {{t['name']}}">Edit</a>
  <a href="/trunks/delete/{{t['name']}}" aria-label="Delete trunk {{t['name']}}">Delete</a></td>
</tr>
% end
</tbody>
</table>
% if groups:
<h2>Trunk groups</h2>
<ul>
% for g in groups:
<li>{{g['name']}}: {{', '.join(m['trunk'] for m in g['members'])}}</li>
% end
</ul>
% end
