% rebase('layout', title=title, nav=nav, me=me, csrf='', flash=flash, section=section, version=version)
<form method="post" class="card narrow" action="/login?next={{next}}">
  {{!forms.hidden('csrf', csrf)}}
  % if error:
  <p class="error" role="alert" id="login-err">{{error}}</p>
  % end
  {{!forms.text('login', 'Login', login, required=True, autocomplete='username')}}
  <div class="field"><label for="f-password">Password</label>
  <input id="f-password" name="password" type="password" autocomplete="current-password" required></div>
  <button type="submit" class="primary">Sign in</button>
</form>
