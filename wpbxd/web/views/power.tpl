% rebase('layout', title=title, nav=nav, me=me, csrf=csrf, flash=flash, section=section, version=version)
% if result:
<p class="flash" role="status" id="result">{{result}}</p>
% end
% if not able:
<p class="note" id="why">{{why}}</p>
% end
<form method="post" action="/power" class="card narrow" novalidate>
  {{!forms.hidden('csrf', csrf)}}
  <fieldset{{!' aria-describedby="f-action-err"' if errors.get('action') else ''}}><legend>What to do</legend>
  % for key, (label, _) in actions.items():
  <div class="field check"><input id="f-action-{{key}}" name="action" type="radio" value="{{key}}"{{!' checked' if values['action'] == key else ''}}><label for="f-action-{{key}}">{{label}}</label></div>
  % end
  % if errors.get('action'):
  <p class="error" id="f-action-err">{{errors['action']}}</p>
  % end
  </fieldset>
  <div class="field check{{' bad' if errors.get('confirm') else ''}}"><input id="f-confirm" name="confirm" type="checkbox" value="1"{{!' checked' if values['confirm'] else ''}}{{!' aria-invalid="true" aria-describedby="f-confirm-err"' if errors.get('confirm') else ''}}><label for="f-confirm">I understand that calls in progress are cut</label></div>
  % if errors.get('confirm'):
  <p class="error" id="f-confirm-err">{{errors['confirm']}}</p>
  % end
  <button type="submit" class="danger">Confirm</button>
</form>
