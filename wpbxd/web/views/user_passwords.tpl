% rebase('layout', title=title, nav=nav, me=me, csrf=csrf, flash=flash, section=section, version=version)
<form method="post" class="card narrow">
  {{!forms.hidden('csrf', csrf)}}
  {{!forms.default_submit()}}
  <p>Leave a field empty to keep that password.</p>
  % if errors.get('_'):
  <p class="error" role="alert">{{errors['_']}}</p>
  % end
  {{!forms.password('web_password', 'WEB password (WMS, Collaboration, provisioning)', pw['web_password'], errors.get('web_password', ''), shown='web_password' in shown)}}
  {{!forms.password('sip_password', 'SIP/VoIP password (third-party devices)', pw['sip_password'], errors.get('sip_password', ''), shown='sip_password' in shown)}}
  <button type="submit" class="primary">Save</button> <a href="/users">Cancel</a>
</form>
