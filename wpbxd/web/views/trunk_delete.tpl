% rebase('layout', title=title, nav=nav, me=me, csrf=csrf, flash=flash, section=section, version=version)
<form method="post" class="card narrow">
  {{!forms.hidden('csrf', csrf)}}
  <p>Delete the trunk <b>{{trunk['name']}}</b>{{(' (' + trunk['title'] + ')') if trunk['title'] else ''}}, host {{trunk['host']}}? Calls can no longer go out or come in through it.</p>
  % if groups:
  <p class="note">It also leaves the trunk group(s): {{', '.join(groups)}}.</p>
  % end
  <button type="submit" class="danger">Delete</button> <a href="/trunks">Cancel</a>
</form>
