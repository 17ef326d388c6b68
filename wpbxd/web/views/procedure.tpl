% rebase('layout', title=title, nav=nav, me=me, csrf=csrf, flash=flash, section=section, version=version)
% name = proc['name']
% action = '/dialplan/p/' + quote(name)
% def err(form_key):
%   return problem if problem.get('form') == form_key else {}
% end
<p><a href="/dialplan">‹ All procedures</a> · <a href="/dialplan/trace?procedure={{quote(name)}}">Trace a call through {{name}}</a></p>
% e = err('set:')
<form method="post" action="{{action}}" class="card narrow">
  {{!forms.hidden('csrf', csrf)}}{{!forms.hidden('action', 'set')}}
  % if e.get('_'):
  <p class="error" role="alert">{{e['_']}}</p>
  % end
  {{!forms.text('new_name', 'Name', e and values.get('new_name') or name, e.get('name', '') or e.get('new_name', ''))}}
  {{!forms.text('description', 'Description', e and values.get('description') or proc['description'], e.get('description', ''))}}
  <button type="submit">Save</button>
</form>
% e = err('includes:')
<form method="post" action="{{action}}" class="card narrow">
  {{!forms.hidden('csrf', csrf)}}{{!forms.hidden('action', 'includes')}}
  <fieldset><legend>Included procedures</legend>
  % for other in others:
  <div class="field check"><input id="f-inc-{{other}}" name="includes" type="checkbox" value="{{other}}"{{!' checked' if other in proc['includes'] else ''}}><label for="f-inc-{{other}}">{{other}}</label></div>
  % end
  % if e:
  <p class="error" role="alert">{{[v for k, v in e.items() if k != 'form'][0]}}</p>
  % end
  </fieldset>
  <button type="submit">Save includes</button>
</form>
<h2>Called numbers</h2>
% for loop_index, entry in enumerate(proc['entries']):
% pattern = entry['pattern']
<section class="card entry" aria-label="Number {{pattern}}">
  <h3><code>{{pattern}}</code></h3>
  <ol class="apps">
  % for i, a in enumerate(entry['apps'], 1):
  <li><b>{{a['app']}}</b> <code>{{show_params(a['params']).replace('\n', ', ')}}</code>
    <form method="post" action="{{action}}" class="inline">{{!forms.hidden('csrf', csrf)}}{{!forms.hidden('pattern', pattern)}}{{!forms.hidden('index', str(i))}}
    % if i > 1:
    <button type="submit" name="action" value="app_up" aria-label="Move {{a['app']}} up">↑</button>
    % end
    % if i < len(entry['apps']):
    <button type="submit" name="action" value="app_down" aria-label="Move {{a['app']}} down">↓</button>
    % end
    <button type="submit" name="action" value="app_del" aria-label="Remove {{a['app']}}">Remove</button></form></li>
  % end
  </ol>
  % e = err('app_add:' + pattern)
  <form method="post" action="{{action}}" class="inline-form">
    {{!forms.hidden('csrf', csrf)}}{{!forms.hidden('action', 'app_add')}}{{!forms.hidden('pattern', pattern)}}
    {{!forms.select('app', 'Application', [(a['name'], a['description']) for a in apps], values.get('app', '') if e else '', e.get('app', ''), key='app-' + str(loop_index))}}
    <div class="field{{' bad' if e.get('params') or e.get('_') else ''}}"><label for="f-params-{{loop_index}}">Parameters (key=value per line)</label>
    <textarea id="f-params-{{loop_index}}" name="params" rows="2">{{values.get('params', '') if e else ''}}</textarea>
    % if e.get('params') or e.get('_'):
    <p class="error" role="alert">{{e.get('params') or e.get('_')}}</p>
    % end
    </div>
    <button type="submit">Add application</button>
  </form>
  <form method="post" action="{{action}}" class="inline">{{!forms.hidden('csrf', csrf)}}{{!forms.hidden('action', 'entry_del')}}{{!forms.hidden('pattern', pattern)}}<button type="submit" class="danger" aria-label="Delete number {{pattern}}">Delete number</button></form>
</section>
% end
% e = err('entry_add:' + values.get('pattern', ''))
<form method="post" action="{{action}}" class="card narrow" id="add-number">
  {{!forms.hidden('csrf', csrf)}}{{!forms.hidden('action', 'entry_add')}}
  <h3>Add a called number</h3>
  {{!forms.text('pattern', 'Number or pattern (X Z N . ! [1-37], default)', values.get('pattern', '') if e else '', e.get('pattern', '') or e.get('_', ''), required=True, key='new-pattern')}}
  {{!forms.select('app', 'First application', [('', '—')] + [(a['name'], a['description']) for a in apps], values.get('app', '') if e else '', e.get('app', ''), key='new-app')}}
  <div class="field{{' bad' if e.get('params') else ''}}"><label for="f-new-params">Parameters (key=value per line)</label>
  <textarea id="f-new-params" name="params" rows="2">{{values.get('params', '') if e else ''}}</textarea>
  % if e.get('params'):
  <p class="error" role="alert">{{e['params']}}</p>
  % end
  </div>
  <button type="submit" class="primary">Add number</button>
</form>
% e = err('delete:')
<form method="post" action="{{action}}" class="card narrow">
  {{!forms.hidden('csrf', csrf)}}{{!forms.hidden('action', 'delete')}}
  % if e:
  <p class="error" role="alert">{{[v for k, v in e.items() if k != 'form'][0]}}</p>
  % end
  <button type="submit" class="danger">Delete procedure {{name}}</button>
</form>
