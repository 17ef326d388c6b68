% rebase('layout', title=title, nav=nav, me=me, csrf=csrf, flash=flash, section=section, version=version)
% if errors.get('_'):
<p class="error" role="alert">{{errors['_']}}</p>
% end
<form method="post" action="/generate-call" class="card narrow">
  {{!forms.hidden('csrf', csrf)}}
  <p>The PBX rings the extension first. When it answers, the number is dialled from it,
  through the dialplan procedure you choose. Number 76 is the echo test.</p>
  {{!forms.text('extension', 'Extension to ring first', values['extension'], errors.get('extension', ''), required=True, hint='a user with a registered phone', suggestions='extensions')}}
  <datalist id="extensions">
  % for ext, label in extensions:
  <option value="{{ext}}">{{label}}</option>
  % end
  </datalist>
  {{!forms.text('number', 'Number it then dials', values['number'], errors.get('number', ''), required=True, hint='76: echo test; an extension; an outside number')}}
  {{!forms.select('procedure', 'Dialplan procedure', procedures, values['procedure'], errors.get('procedure', ''))}}
  <button type="submit" class="primary">Call</button>
</form>
