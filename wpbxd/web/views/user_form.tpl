% rebase('layout', title=title, nav=nav, me=me, csrf=csrf, flash=flash, section=section, version=version)
<form method="post" class="card" novalidate>
  {{!forms.hidden('csrf', csrf)}}
  {{!forms.default_submit()}}
  % if errors.get('_'):
  <p class="error" role="alert">{{errors['_']}}</p>
  % end
  <fieldset><legend>User</legend>
  % if target is not None and target.is_super_admin:
  <p>Type: admin (super admin)</p>
  % else:
  {{!forms.select('type', labels['type'], types, values['type'], errors.get('type', ''))}}
  % end
  {{!forms.text('name', labels['name'], values['name'], errors.get('name', ''), required=True)}}
  % if target is None or not target.is_super_admin:
  {{!forms.text('login', labels['login'], values['login'], errors.get('login', ''))}}
  % end
  {{!forms.text('extension', labels['extension'], values['extension'], errors.get('extension', ''), hint='Required except for admins.')}}
  {{!forms.text('email', labels['email'], values['email'], errors.get('email', ''), kind='email')}}
  {{!forms.text('department', labels['department'], values['department'], errors.get('department', ''))}}
  </fieldset>
  <fieldset><legend>Numbers</legend>
  {{!forms.text('fax_did', labels['fax_did'], values['fax_did'], errors.get('fax_did', ''))}}
  {{!forms.text('office_did', labels['office_did'], values['office_did'], errors.get('office_did', ''))}}
  {{!forms.text('mobility', labels['mobility'], values['mobility'], errors.get('mobility', ''))}}
  </fieldset>
  <fieldset><legend>Routing and rights</legend>
  {{!forms.select('dialplan', labels['dialplan'], procedures, values['dialplan'], errors.get('dialplan', ''))}}
  {{!forms.select('fax_dialplan', labels['fax_dialplan'], procedures, values['fax_dialplan'], errors.get('fax_dialplan', ''))}}
  {{!forms.text('language', labels['language'], values['language'], errors.get('language', ''), hint='e.g. en, fr, it')}}
  {{!forms.select('acl_group', labels['acl_group'], groups, values['acl_group'], errors.get('acl_group', ''))}}
  </fieldset>
  % if creating:
  <fieldset><legend>Passwords (optional)</legend>
  {{!forms.password('web_password', 'WEB password', pw['web_password'], errors.get('web_password', ''), shown='web_password' in shown)}}
  {{!forms.password('sip_password', 'SIP/VoIP password', pw['sip_password'], errors.get('sip_password', ''), shown='sip_password' in shown)}}
  </fieldset>
  % end
  <button type="submit" class="primary">Save</button> <a href="/users">Cancel</a>
</form>
