% rebase('layout', title=title, nav=nav, me=me, csrf=csrf, flash=flash, section=section, version=version)
% if errors.get('_'):
<p class="error" role="alert">{{errors['_']}}</p>
% end
<table class="list" id="sounds">
<caption>{{len(sounds)}} sound(s) of your own (the system prompts are built in)</caption>
<thead><tr><th scope="col">Name</th><th scope="col">Length (s)</th><th scope="col">Listen</th><th scope="col">Action</th></tr></thead>
<tbody>
% for s in sounds:
<tr><td>{{s.name}}</td><td>{{'%.1f' % s.seconds}}</td>
<td><audio controls preload="none" src="/sounds/{{s.name}}.wav" aria-label="Listen to {{s.name}}"></audio></td>
<td><form method="post" action="/sounds" class="inline">{{!forms.hidden('csrf', csrf)}}<button type="submit" name="delete" value="{{s.name}}" aria-label="Delete {{s.name}}">Delete</button></form></td></tr>
% end
</tbody>
</table>
<form method="post" action="/sounds" enctype="multipart/form-data" class="card narrow">
  {{!forms.hidden('csrf', csrf)}}
  <h2>Upload a sound</h2>
  {{!forms.text('name', 'Name (used by the dialplan applications)', name, errors.get('name', ''), required=True, hint='letters, digits, _ - .')}}
  <div class="field{{' bad' if errors.get('file') else ''}}"><label for="f-file">File (mp3, wav or alaw)</label>
  <input id="f-file" name="file" type="file" accept=".mp3,.wav,.alaw,.al"{{!' aria-invalid="true" aria-describedby="f-file-err"' if errors.get('file') else ''}}>
  % if errors.get('file'):
  <p class="error" id="f-file-err" role="alert">{{errors['file']}}</p>
  % end
  </div>
  <button type="submit" class="primary">Upload</button>
</form>
% if recordable:
<form method="post" action="/sounds/record" class="card narrow">
  {{!forms.hidden('csrf', csrf)}}
  <h2>Record by phone</h2>
  <p>The PBX calls the phone of this extension. Answer, speak after the beep, then hang up (or press #) to save.</p>
  {{!forms.text('rec_name', 'Name of the message', '', '', required=True, hint='letters, digits, _ - .')}}
  {{!forms.text('rec_extension', 'Your extension', '', '', required=True)}}
  <button type="submit" class="primary">Record</button>
</form>
% end
