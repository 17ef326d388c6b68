% rebase('layout', title=title, nav=nav, me=me, csrf=csrf, flash=flash, section=section, version=version)
<div class="gauges">
% for picture in pictures:
{{!picture}}
% end
</div>
<div class="tiles">
% for label, count, href in counts:
<a class="tile" href="{{href}}"><span class="big">{{count}}</span> {{label}}</a>
% end
</div>
<table class="kv">
% for k, v in details:
<tr><th scope="row">{{k}}</th><td>{{v}}</td></tr>
% end
</table>
