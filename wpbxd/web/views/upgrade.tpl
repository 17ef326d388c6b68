% rebase('layout', title=title, nav=nav, me=me, csrf=csrf, flash=flash, section=section, version=version)
% include('settings_menu', groups=groups, group=group)
% if running:
<meta http-equiv="refresh" content="{{refresh}}">
% end
% if errors.get('_'):
<p class="error" role="alert">{{errors['_']}}</p>
% end
<table class="list" id="update-status">
<caption>System version</caption>
<tbody>
<tr><th scope="row">Running version</th><td id="running-version">{{status['version']}}</td></tr>
% if status.get('running_slot'):
<tr><th scope="row">Slots</th><td>running {{status['running_slot'].upper()}}, confirmed {{status['active_slot'].upper()}}{{(', trial of ' + status['trial_slot'].upper() + ' pending') if status.get('trial_slot') else ''}}
% for slot, v in sorted(status['slots'].items()):
 &middot; {{slot.upper()}}: {{v}}
% end
</td></tr>
% end
% if status.get('last_result'):
<tr><th scope="row">Last upgrade</th><td id="last-result">{{status['last_result']}}</td></tr>
% end
</tbody>
</table>
% if progress['state'] != 'idle':
<section class="card" id="progress" aria-live="polite">
<h2>Upgrade to {{progress['version']}}: {{progress['state']}}</h2>
<progress max="100" value="{{progress['percent']}}">{{progress['percent']}}%</progress>
<p>{{progress['step']}} ({{progress['percent']}}%)</p>
% if progress['message']:
<p class="{{'error' if progress['state'] == 'failed' else 'note'}}" {{!'role="alert"' if progress['state'] == 'failed' else ''}}>{{progress['message']}}</p>
% end
% if progress['backup']:
<p>Backup made before the upgrade: {{progress['backup']}}</p>
% end
</section>
% end
% if me.is_super_admin:
<p class="note">A backup is needed before each upgrade (one made in the last hour counts). Downgrades are not supported (la rétrogradation n'est pas prise en charge).</p>
<form method="post" action="/settings/update" enctype="multipart/form-data" class="card narrow">
  {{!forms.hidden('csrf', csrf)}}{{!forms.hidden('action', 'upload')}}
  <h2>Upload an update bundle</h2>
  <div class="field"><label for="f-bundle">Bundle (.wpbx)</label><input id="f-bundle" name="bundle" type="file" accept=".wpbx"
  {{!'aria-invalid="true" aria-describedby="e-bundle"' if errors.get('bundle') else ''}}>
% if errors.get('bundle'):
  <p class="error" id="e-bundle" role="alert">{{errors['bundle']}}</p>
% end
  </div>
  {{!forms.checkbox('backup', 'Make a backup first if none is recent', True)}}
  <button type="submit" class="primary" {{'disabled' if running else ''}}>Upload and update</button>
</form>
<h2>Repositories</h2>
<table class="list" id="repositories">
<thead><tr><th scope="col">Name</th><th scope="col">Location</th><th scope="col">Actions</th></tr></thead>
<tbody>
% for r in repositories:
<tr><td>{{r['name']}}</td><td>{{r['location']}}</td><td>
<form method="post" action="/settings/update" class="inline">{{!forms.hidden('csrf', csrf)}}{{!forms.hidden('repository', r['name'])}}{{!forms.hidden('name', r['name'])}}{{!forms.hidden('backup', '1')}}
<button type="submit" name="action" value="check">Check</button>
<button type="submit" name="action" value="install" class="primary">Update</button>
<button type="submit" name="action" value="repo_del" aria-label="Delete repository {{r['name']}}">Delete</button></form>
</td></tr>
% end
</tbody>
</table>
% for key in ('check', 'install', 'repo_del'):
% if errors.get(key):
<p class="error" role="alert">{{errors[key]}}</p>
% end
% end
% if result:
<p class="note" id="check-result">{{('Version ' + result['version'] + ' is available.') if result.get('available') else result.get('message', '')}}</p>
% end
<form method="post" action="/settings/update" class="card narrow">
  {{!forms.hidden('csrf', csrf)}}{{!forms.hidden('action', 'repo_add')}}
  <h2>Add a repository</h2>
  {{!forms.text('name', 'Name (like rel40)', '', errors.get('name', ''))}}
  {{!forms.text('location', 'Directory of bundles', '', errors.get('location', ''))}}
  <button type="submit">Save</button>
</form>
% end
