% rebase('layout', title=title, nav=nav, me=me, csrf=csrf, flash=flash, section=section, version=version)
% include('settings_menu', groups=groups, group=group)
% if errors.get('_'):
<p class="error" role="alert">{{errors['_']}}</p>
% end
% if me.is_super_admin:
<form method="post" action="/settings/backup" class="bar">
  {{!forms.hidden('csrf', csrf)}}{{!forms.hidden('action', 'create')}}
  <button type="submit" class="primary">Create a backup now</button>
</form>
% end
<table class="list" id="backups">
<caption>{{len(backups)}} backup(s) on the box</caption>
<thead><tr><th scope="col">Backup</th><th scope="col">Created</th><th scope="col">Size</th><th scope="col">Files</th><th scope="col">Actions</th></tr></thead>
<tbody>
% for b in reversed(backups):
<tr><td>{{b['name']}}</td><td>{{when(b['created'])}}</td><td>{{'%.1f' % (b['size'] / 1024)}} KB</td><td>{{b['files']}}</td>
<td>
% if me.is_super_admin:
<form method="post" action="/settings/backup" class="inline">{{!forms.hidden('csrf', csrf)}}{{!forms.hidden('backup', b['name'])}}
<button type="submit" name="action" value="verify" aria-label="Verify {{b['name']}}">Verify</button>
<input type="checkbox" name="confirm" value="1" id="c-{{b['name']}}"><label for="c-{{b['name']}}">replace the current configuration</label>
<button type="submit" name="action" value="restore" class="danger" aria-label="Restore {{b['name']}}">Restore</button></form>
% for k in ('verify:' + b['name'], 'restore:' + b['name']):
% if errors.get(k):
<p class="error" role="alert">{{errors[k]}}</p>
% end
% end
% end
</td></tr>
% end
</tbody>
</table>
<h2>Schedules</h2>
<table class="list" id="schedules">
<thead><tr><th scope="col">When</th><th scope="col">Target</th><th scope="col">Keep</th><th scope="col">Last run</th><th scope="col">Actions</th></tr></thead>
<tbody>
% for s in schedules:
<tr><td>{{s['frequency']}} {{'%02d:%02d' % (s['hour'], s['minute'])}}{{(' on ' + weekdays[s['weekday']]) if s['frequency'] == 'weekly' else ''}}{{(' on day ' + str(s['monthday'])) if s['frequency'] == 'monthly' else ''}}{{'' if s['enabled'] else ' (off)'}}</td>
<td>{{s['target']}}{{(' ' + s['ftp_host']) if s['target'] == 'ftp' else ''}}{{(' ' + s['email_to']) if s['target'] == 'email' else ''}}</td><td>{{s['keep']}}</td><td>{{when(s['last_run'])}} {{s['last_result']}}</td>
<td>
% if me.is_super_admin:
<form method="post" action="/settings/backup" class="inline">{{!forms.hidden('csrf', csrf)}}{{!forms.hidden('id', str(s['id']))}}
<button type="submit" name="action" value="schedule_run">Run now</button>
<button type="submit" name="action" value="schedule_del" aria-label="Delete schedule {{s['id']}}">Delete</button></form>
% end
</td></tr>
% end
</tbody>
</table>
% if me.is_super_admin:
<form method="post" action="/settings/backup" class="card narrow">
  {{!forms.hidden('csrf', csrf)}}{{!forms.hidden('action', 'schedule_add')}}
  <h2>Add a schedule</h2>
  {{!forms.select('frequency', 'Frequency', [(f, f) for f in frequencies], values.get('frequency', ''), errors.get('frequency', ''))}}
  {{!forms.text('hour', 'Hour (0-23)', values.get('hour', ''), errors.get('hour', ''))}}
  {{!forms.text('minute', 'Minute', values.get('minute', ''), errors.get('minute', ''))}}
  {{!forms.select('weekday', 'Day of the week (weekly)', [(str(i), d) for i, d in enumerate(weekdays)], values.get('weekday', ''), errors.get('weekday', ''))}}
  {{!forms.text('monthday', 'Day of the month (monthly, 1-28)', values.get('monthday', ''), errors.get('monthday', ''))}}
  {{!forms.select('target', 'Target', [(t, t) for t in targets], values.get('target', ''), errors.get('target', ''))}}
  {{!forms.text('keep', 'Backups to keep', values.get('keep', ''), errors.get('keep', ''))}}
  <fieldset><legend>FTP target</legend>
  {{!forms.text('ftp_host', 'FTP server', values.get('ftp_host', ''), errors.get('ftp_host', ''))}}
  {{!forms.text('ftp_port', 'FTP port', values.get('ftp_port', ''), errors.get('ftp_port', ''))}}
  {{!forms.text('ftp_user', 'FTP user', values.get('ftp_user', ''), errors.get('ftp_user', ''))}}
  {{!forms.text('ftp_password', 'FTP password', '', errors.get('ftp_password', ''), kind='password', autocomplete='new-password')}}
  {{!forms.text('ftp_dir', 'FTP folder', values.get('ftp_dir', ''), errors.get('ftp_dir', ''))}}
  </fieldset>
  {{!forms.text('share', 'Share (for the share target)', values.get('share', ''), errors.get('share', ''))}}
  {{!forms.text('email_to', 'Email address (for the email target, through the SMTP profile)', values.get('email_to', ''), errors.get('email_to', ''))}}
  {{!forms.checkbox('enabled', 'Enabled', values.get('enabled', '1') != '')}}
  <button type="submit" class="primary">Add schedule</button>
</form>
% end
