% rebase('layout', title=title, nav=nav, me=me, csrf=csrf, flash=flash, section=section, version=version)
% if forced:
<p class="note">Before you start, change the password of <b>{{user.login or user.name}}</b> and give the email address where the PBX sends its notifications.</p>
% end
<form method="post" class="card narrow" action="/password">
  {{!forms.hidden('csrf', csrf)}}
  {{!forms.default_submit()}}
  % if errors.get('_'):
  <p class="error" role="alert">{{errors['_']}}</p>
  % end
  <div class="field{{' bad' if errors.get('current') else ''}}"><label for="f-current">Current password</label>
  <input id="f-current" name="current" type="password" value="{{values['current']}}" autocomplete="current-password"{{!' aria-invalid="true" aria-describedby="f-current-err"' if errors.get('current') else ''}}>
  % if errors.get('current'):
  <p class="error" id="f-current-err">{{errors['current']}}</p>
  % end
  </div>
  {{!forms.password('new', 'New password', values['new'], errors.get('new', ''), shown=shown)}}
  {{!forms.text('email', 'Administrator email', values['email'], errors.get('email', ''), kind='email', autocomplete='email', hint='Notifications are sent to this address.')}}
  <button type="submit" class="primary">Save</button>
</form>
