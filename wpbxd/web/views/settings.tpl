% rebase('layout', title=title, nav=nav, me=me, csrf=csrf, flash=flash, section=section, version=version)
% include('settings_menu', groups=groups, group=group)
<form method="post" class="card">
  {{!forms.hidden('csrf', csrf)}}
  % for k in keys:
  {{!forms.text(k, specs[k].description, values[k], errors.get(k, ''), hint='default: ' + str(specs[k].default))}}
  % end
  <button type="submit" class="primary">Save</button>
</form>
