% rebase('layout', title=title, nav=nav, me=me, csrf=csrf, flash=flash, section=section, version=version)
% include('settings_menu', groups=groups, group=group)
<form method="post" action="/settings/smtp" class="card narrow">
  {{!forms.hidden('csrf', csrf)}}{{!forms.hidden('action', 'save')}}
  % if errors.get('_'):
  <p class="error" role="alert">{{errors['_']}}</p>
  % end
  {{!forms.text('sender', 'Sender address', values['sender'], errors.get('sender', ''), kind='email')}}
  {{!forms.text('server', 'SMTP server', values['server'], errors.get('server', ''))}}
  {{!forms.text('port', 'Port', values['port'], errors.get('port', ''))}}
  {{!forms.select('security', 'Security', [('none', 'none'), ('starttls', 'STARTTLS'), ('tls', 'TLS')], values['security'], errors.get('security', ''))}}
  {{!forms.checkbox('verify_tls', "Verify the server's certificate", bool(values['verify_tls']))}}
  {{!forms.text('username', 'User name', values['username'], errors.get('username', ''))}}
  {{!forms.text('password', 'Password', '', errors.get('password', ''), kind='password', autocomplete='new-password', hint='leave empty to keep the current one' if has_password else '')}}
  {{!forms.text('helo', 'HELO name', values['helo'], errors.get('helo', ''))}}
  <button type="submit" class="primary">Save</button>
</form>
<form method="post" action="/settings/smtp" class="card narrow">
  {{!forms.hidden('csrf', csrf)}}{{!forms.hidden('action', 'test')}}
  <h2>Test</h2>
  % if test_result:
  <p class="flash" role="status">{{test_result}}</p>
  % end
  {{!forms.text('to', 'Send a test mail to', test_to, errors.get('to', ''), kind='email')}}
  <button type="submit">Test</button>
</form>
