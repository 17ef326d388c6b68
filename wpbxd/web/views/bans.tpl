% rebase('layout', title=title, nav=nav, me=me, csrf=csrf, flash=flash, section=section, version=version)
<table class="list" id="bans">
<caption>{{len(bans)}} banned address(es)</caption>
<thead><tr><th scope="col">Address</th><th scope="col">Details</th><th scope="col">Action</th></tr></thead>
<tbody>
% for b in bans:
% address = b.get('address', '') if isinstance(b, dict) else str(b)
<tr><td>{{address}}</td><td>{{', '.join(f'{k}: {v}' for k, v in b.items() if k != 'address') if isinstance(b, dict) else ''}}</td>
<td><form method="post" action="/bans">{{!forms.hidden('csrf', csrf)}}{{!forms.hidden('address', address)}}<button type="submit" aria-label="Unban {{address}}">Unban</button></form></td></tr>
% end
</tbody>
</table>
