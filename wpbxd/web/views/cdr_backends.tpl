% rebase('layout', title=title, nav=nav, me=me, csrf=csrf, flash=flash, section=section, version=version)
% include('settings_menu', groups=groups, group=group)
<p class="note" id="stats">Statistics source:
% if stats_error:
<span class="error">{{stats_error}}</span>
% else:
{{stats.get('backend', '?')}}: {{stats.get('calls', 0)}} call(s), {{stats.get('answered', 0)}} answered, {{stats.get('billsec', 0)}} billed second(s), cost {{stats.get('cost', 0)}}
% end
</p>
% for b in backends:
<form method="post" action="/settings/cdr-backends" class="card narrow" id="backend-{{b['name']}}" novalidate>
  {{!forms.hidden('csrf', csrf)}}{{!forms.hidden('backend', b['name'])}}
  <h2>{{ {'sqlite': 'SQLite (local)', 'csv': 'CSV file', 'mysql': 'MySQL'}.get(b['name'], b['name']) }}</h2>
  <p class="status">Status: {{b.get('status', '')}}{{(' · %d record(s) queued' % b['queued']) if b.get('queued') else ''}}{{' · statistics source' if b['stats'] else ''}}</p>
  % err = errors.get(b['name'] + '._', '')
  % if err:
  <p class="error" role="alert">{{err}}</p>
  % end
  <div class="field check"><input id="f-{{b['name']}}-enabled" name="enabled" type="checkbox" value="1"{{!' checked' if b['enabled'] else ''}}><label for="f-{{b['name']}}-enabled">Enabled</label></div>
  % if errors.get(b['name'] + '.enabled'):
  <p class="error">{{errors[b['name'] + '.enabled']}}</p>
  % end
  % for k in options[b['name']]:
  % value = '' if k == 'password' else b['options'].get(k, '')
  {{!forms.text(k, labels[k], value, errors.get(b['name'] + '.' + k, ''), kind='password' if k == 'password' else 'text', autocomplete='new-password' if k == 'password' else 'off', key=b['name'] + '-' + k, hint=('Stored; leave empty to keep it.' if k == 'password' and b['options'].get('password') else ''))}}
  % end
  <button type="submit" name="action" value="save" class="primary">Save {{b['name']}}</button>
  % if not b['stats']:
  <button type="submit" name="action" value="stats">Use for statistics</button>
  % end
  % if errors.get(b['name'] + '.stats'):
  <p class="error">{{errors[b['name'] + '.stats']}}</p>
  % end
  % if b.get('log'):
  <details><summary>Recent status lines</summary><ol class="log">
  % for line in b['log']:
  <li><code>{{line}}</code></li>
  % end
  </ol></details>
  % end
</form>
% end
