% rebase('layout', title=title, nav=nav, me=me, csrf=csrf, flash=flash, section=section, version=version)
<form method="post" class="card narrow">
  {{!forms.hidden('csrf', csrf)}}
  % if error:
  <p class="error" role="alert">{{error}}</p>
  % end
  <p>Delete <b>{{target.name}}</b>{{' (extension ' + target.extension + ')' if target.extension else ''}}?</p>
  {{!forms.checkbox('personal_data', "Also delete the user's personal data (call history)")}}
  <button type="submit" class="danger">Delete</button> <a href="/users">Cancel</a>
</form>
