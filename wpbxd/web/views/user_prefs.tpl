% rebase('layout', title=title, nav=nav, me=me, csrf=csrf, flash=flash, section=section, version=version)
<nav class="sub" aria-label="Call classes"><ul>
% for c in classes:
<li><a href="/users/{{target.id}}/preferences?class={{c}}"{{!' aria-current="page"' if c == call_class else ''}}>{{c}} calls</a></li>
% end
</ul></nav>
<form method="post" action="/users/{{target.id}}/preferences?class={{call_class}}" class="card narrow">
  {{!forms.hidden('csrf', csrf)}}
  % if errors.get('_'):
  <p class="error" role="alert">{{errors['_']}}</p>
  % end
  % for k, label in labels.items():
  % if isinstance(values.get(k), bool):
  {{!forms.checkbox(k, label, values[k])}}
  % else:
  {{!forms.text(k, label, '' if values.get(k) is None else values.get(k), errors.get(k, ''), hint='a number or VOICEMAIL' if k.startswith('fwd_') else '')}}
  % end
  % end
  <button type="submit" class="primary">Save</button> <a href="/users">Back to users</a>
</form>
