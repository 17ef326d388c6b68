% rebase('layout', title=title, nav=nav, me=me, csrf=csrf, flash=flash, section=section, version=version)
% include('settings_menu', groups=groups, group=group)
% if errors.get('_'):
<p class="error" role="alert">{{errors['_']}}</p>
% end
% if not net.get('managing'):
<p class="note">This wpbxd does not manage the network interfaces (host mode): settings are kept and applied on the appliance.</p>
% end
% if net.get('pending_confirm'):
<form method="post" action="/settings/network" class="note">
  {{!forms.hidden('csrf', csrf)}}{{!forms.hidden('action', 'confirm')}}
  New settings are active: confirm within {{net['pending_confirm']['seconds_left']}} s or they are rolled back.
  <button type="submit" class="primary">Confirm</button>
</form>
% end
<form method="post" action="/settings/network" class="card narrow">
  {{!forms.hidden('csrf', csrf)}}{{!forms.hidden('action', 'scenario')}}
  {{!forms.select('scenario', 'Scenario', [(s, s) for s in scenarios], values.get('scenario', ''), errors.get('scenario', ''))}}
  <button type="submit">Use this scenario</button>
</form>
<form method="post" action="/settings/network" class="card">
  {{!forms.hidden('csrf', csrf)}}{{!forms.hidden('action', 'save')}}
  {{!forms.text('hostname', 'Host name', values.get('hostname', ''), errors.get('hostname', ''))}}
  {{!forms.text('confirm_timeout', 'Seconds to confirm an apply', values.get('confirm_timeout', ''), errors.get('confirm_timeout', ''))}}
  % for p in ports:
  <fieldset><legend>{{p}}</legend>
  {{!forms.select(p + '.mode', 'Mode', [(m, m) for m in modes], values.get(p + '.mode', ''), errors.get(p + '.mode', ''))}}
  {{!forms.text(p + '.address', 'Address (CIDR)', values.get(p + '.address', ''), errors.get(p + '.address', ''), hint='e.g. 10.135.0.1/24')}}
  {{!forms.text(p + '.gateway', 'Gateway', values.get(p + '.gateway', ''), errors.get(p + '.gateway', ''))}}
  {{!forms.text(p + '.dns', 'DNS servers', values.get(p + '.dns', ''), errors.get(p + '.dns', ''))}}
  </fieldset>
  % end
  <fieldset><legend>DHCP server</legend>
  {{!forms.checkbox('dhcp.enabled', 'Serve DHCP on the LAN', bool(values.get('dhcp.enabled')))}}
  % for k in dhcp_fields:
  {{!forms.text('dhcp.' + k, k.replace('_', ' ').capitalize(), values.get('dhcp.' + k, ''), errors.get('dhcp.' + k, ''))}}
  % end
  {{!forms.checkbox('dhcp.refuse_unknown', 'Only known devices (Devices page) get an address', bool(values.get('dhcp.refuse_unknown')))}}
  % if errors.get('dhcp'):
  <p class="error" role="alert">{{errors['dhcp']}}</p>
  % end
  </fieldset>
  <fieldset><legend>Traffic shaper</legend>
  {{!forms.checkbox('shaper.enabled', 'Give SIP and RTP priority, limit the line', bool(values.get('shaper.enabled')))}}
  {{!forms.text('shaper.upload_kbit', 'Upload (kbit/s)', values.get('shaper.upload_kbit', ''), errors.get('shaper.upload_kbit', ''))}}
  {{!forms.text('shaper.download_kbit', 'Download (kbit/s)', values.get('shaper.download_kbit', ''), errors.get('shaper.download_kbit', ''))}}
  % if errors.get('shaper'):
  <p class="error" role="alert">{{errors['shaper']}}</p>
  % end
  </fieldset>
  <button type="submit" class="primary">Save</button>
</form>
<form method="post" action="/settings/network" class="card narrow">
  {{!forms.hidden('csrf', csrf)}}{{!forms.hidden('action', 'apply')}}
  <p>Saved settings take effect when applied; an apply that is not confirmed in time is rolled back.</p>
  <button type="submit" class="danger">Apply</button>
</form>
