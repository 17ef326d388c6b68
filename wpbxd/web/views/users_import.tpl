% rebase('layout', title=title, nav=nav, me=me, csrf=csrf, flash=flash, section=section, version=version)
<form method="post" class="card" enctype="multipart/form-data" action="/users/import">
  {{!forms.hidden('csrf', csrf)}}
  <p>A CSV file with a header line. Columns: <code>{{', '.join(columns)}}</code> (<code>name</code> and <code>extension</code> required). All rows are imported, or none.</p>
  <div class="field{{' bad' if error else ''}}"><label for="f-file">CSV file</label>
  <input id="f-file" name="file" type="file" accept=".csv,text/csv"{{!' aria-invalid="true" aria-describedby="f-file-err"' if error else ''}}>
  % if error:
  <p class="error" id="f-file-err" role="alert">{{error}}</p>
  % end
  </div>
  <div class="field"><label for="f-csv">…or paste the CSV text</label>
  <textarea id="f-csv" name="csv" rows="8">{{text}}</textarea></div>
  <button type="submit" class="primary">Import</button> <a href="/users">Cancel</a>
</form>
