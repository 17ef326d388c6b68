% rebase('layout', title=title, nav=nav, me=me, csrf=csrf, flash=flash, section=section, version=version)
<form method="post" class="card" novalidate>
  {{!forms.hidden('csrf', csrf)}}
  % if errors.get('_'):
  <p class="error" role="alert">{{errors['_']}}</p>
  % end
  <fieldset><legend>Trunk</legend>
  {{!forms.text('title', labels['title'], values['title'], errors.get('title', ''))}}
  {{!forms.text('name', labels['name'], values['name'], errors.get('name', ''), required=True, hint='Letters, digits, _ - .')}}
  {{!forms.text('login', labels['login'], values['login'], errors.get('login', ''), required=True)}}
  {{!forms.text('from_user', labels['from_user'], values['from_user'], errors.get('from_user', ''), hint='Empty: the login')}}
  {{!forms.text('domain', labels['domain'], values['domain'], errors.get('domain', ''), hint='Empty: the host')}}
  {{!forms.text('host', labels['host'], values['host'], errors.get('host', ''), required=True, hint="'dynamic': the provider registers to the PBX")}}
  {{!forms.text('password', labels['password'], values['password'], errors.get('password', ''), kind='password', autocomplete='new-password', hint=('Stored; leave empty to keep it.' if has_password else ''))}}
  </fieldset>
  <fieldset><legend>Calls</legend>
  {{!forms.select('procedure', labels['procedure'], procedures, values['procedure'], errors.get('procedure', ''))}}
  {{!forms.text('country_code', labels['country_code'], values['country_code'], errors.get('country_code', ''), hint='e.g. 33 for France')}}
  {{!forms.select('called_from', labels['called_from'], [('ruri', 'Request-URI'), ('to', 'To header')], values['called_from'], errors.get('called_from', ''))}}
  {{!forms.text('max_calls', labels['max_calls'], values['max_calls'], errors.get('max_calls', ''))}}
  {{!forms.select('price_list', labels['price_list'], price_lists, values['price_list'] or '', errors.get('price_list', ''))}}
  </fieldset>
  <fieldset><legend>Registration and keep-alive</legend>
  {{!forms.checkbox('register', labels['register'], bool(values['register']))}}
  % if errors.get('register'):
  <p class="error" id="f-register-err">{{errors['register']}}</p>
  % end
  {{!forms.text('register_expires', labels['register_expires'], values['register_expires'], errors.get('register_expires', ''))}}
  {{!forms.text('keepalive', labels['keepalive'], values['keepalive'], errors.get('keepalive', ''))}}
  </fieldset>
  <button type="submit" class="primary">Save</button> <a href="/trunks">Cancel</a>
</form>
