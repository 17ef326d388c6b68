% rebase('layout', title=title, nav=nav, me=me, csrf=csrf, flash=flash, section=section, version=version)
<p><a href="/trunks">Back to trunks</a> · attach a list to a trunk on the trunk's page.</p>
<table class="list" id="pricelists">
<caption>{{len(lists)}} price list(s)</caption>
<thead><tr><th scope="col">Name</th><th scope="col">Rates</th><th scope="col">Imported</th><th scope="col">Used by</th><th scope="col">Actions</th></tr></thead>
<tbody>
% for p in lists:
<tr><td><a href="/trunks/pricelists/{{p['name']}}">{{p['name']}}</a></td><td>{{p['rows']}}</td><td>{{when(p['imported_at'])}}</td>
<td>{{', '.join(used.get(p['name'], []))}}</td>
<td><form method="post" action="/trunks/pricelists" class="inline">{{!forms.hidden('csrf', csrf)}}{{!forms.hidden('name', p['name'])}}
<button type="submit" name="action" value="delete" class="danger" aria-label="Delete price list {{p['name']}}">Delete</button></form></td></tr>
% end
</tbody>
</table>
<form method="post" action="/trunks/pricelists" enctype="multipart/form-data" class="card narrow" novalidate>
  {{!forms.hidden('csrf', csrf)}}
  <h2>Import a price list</h2>
  <p>CSV columns: dialprefix, destination, rate (per minute), min_duration, billing_block, connect_charge, start_day, stop_day (1 = Monday), start_time, stop_time (seconds from midnight). A list with the same name is replaced only when the whole file is good.</p>
  % if errors.get('_'):
  <p class="error" role="alert">{{errors['_']}}</p>
  % end
  {{!forms.text('name', 'List name', name, errors.get('name', ''), required=True)}}
  {{!forms.text('file', 'CSV file', '', errors.get('file', ''), kind='file')}}
  <button type="submit" class="primary">Import</button>
</form>
