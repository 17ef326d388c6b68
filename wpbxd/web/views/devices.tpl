% rebase('layout', title=title, nav=nav, me=me, csrf=csrf, flash=flash, section=section, version=version)
<table class="list" id="devices">
<caption>{{len(devices)}} known device(s)</caption>
<thead><tr><th scope="col">MAC</th><th scope="col">Name</th><th scope="col">Model</th><th scope="col">Action</th></tr></thead>
<tbody>
% for d in devices:
<tr><td><code>{{d['mac']}}</code></td><td>{{d['name']}}</td><td>{{d['model']}}</td>
<td><form method="post" action="/devices" class="inline">{{!forms.hidden('csrf', csrf)}}<button type="submit" name="delete" value="{{d['mac']}}" aria-label="Remove {{d['mac']}}">Remove</button></form></td></tr>
% end
</tbody>
</table>
<form method="post" action="/devices" class="card narrow">
  {{!forms.hidden('csrf', csrf)}}
  <h2>Add a device</h2>
  {{!forms.text('mac', 'MAC address', values['mac'], errors.get('mac', ''), required=True, hint='e.g. 00:09:45:12:34:56')}}
  {{!forms.text('name', 'Name', values['name'], errors.get('name', ''))}}
  {{!forms.text('model', 'Model', values['model'], errors.get('model', ''))}}
  <button type="submit" class="primary">Save device</button>
</form>
<h2>DHCP leases</h2>
<table class="list" id="leases">
<caption>{{len(leases)}} active lease(s)</caption>
<thead><tr><th scope="col">Address</th><th scope="col">MAC</th><th scope="col">Host name</th><th scope="col">Vendor class</th><th scope="col">Port</th><th scope="col">Expires in (s)</th></tr></thead>
<tbody>
% for l in leases:
<tr><td>{{l['ip']}}</td><td><code>{{l['mac']}}</code></td><td>{{l['hostname'] or ''}}</td><td>{{l['vendor_class'] or ''}}</td><td>{{l['interface']}}</td><td>{{l['expires_in']}}</td></tr>
% end
</tbody>
</table>
