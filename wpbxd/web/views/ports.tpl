% rebase('layout', title=title, nav=nav, me=me, csrf=csrf, flash=flash, section=section, version=version)
<p class="{{'flash' if ports['status'] == 'green' else 'note'}}">Overall: <b>{{ports['status']}}</b> — red: a port the phones and trunks need is not bound; yellow: bound only where the LAN cannot reach it.</p>
<table class="list" id="ports">
<thead><tr><th scope="col">Service</th><th scope="col">Protocol</th><th scope="col">Port</th><th scope="col">Status</th><th scope="col">Bound on</th></tr></thead>
<tbody>
% for p in ports['ports']:
<tr><td>{{p['name']}}</td><td>{{p['proto']}}</td><td>{{p['port']}}</td>
<td><span class="dot {{'on' if p['status'] == 'green' else ('warn' if p['status'] == 'yellow' else 'bad')}}"></span> {{p['status']}}</td>
<td>{{', '.join(p['bound_on']) or 'nowhere'}}</td></tr>
% end
</tbody>
</table>
<p>LAN addresses: {{', '.join(ports['lan_addresses']) or 'none configured'}}</p>
