% rebase('layout', title=status, nav=nav, me=me, csrf=csrf, flash=flash, section=section, version=version)
<p class="error-page">{{message}}</p>
<p><a href="/users">Back to the administration</a></p>
