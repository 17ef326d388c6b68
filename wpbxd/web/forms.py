"""HTML form fields with their label, value and error message, escaped once here.

Every field has a ``<label for>``; an error sits next to its field and is tied to
it with ``aria-describedby``. Also maps service errors to the field they concern.
"""

from html import escape

from wpbxd.errors import Conflict, UserError, ValidationError


def error_field(err: UserError, known: tuple[str, ...]) -> tuple[str | None, str]:
    """(field name or None, message) for an error raised by a service function."""
    if isinstance(err, ValidationError):
        if err.field in known:
            return err.field, err.message
        return None, str(err)
    if isinstance(err, Conflict):
        first = str(err).split(" ", 1)[0]
        if first in known:
            return first, str(err)
    return None, str(err)


def _attrs(name: str, error: str) -> tuple[str, str]:
    fid = f"f-{name}"  # ``name`` may carry a suffix ("app-1XX") when a page repeats a form
    extra = f' aria-invalid="true" aria-describedby="{fid}-err"' if error else ""
    return fid, extra


def _error(name: str, error: str) -> str:
    return f'<p class="error" id="f-{name}-err">{escape(error)}</p>' if error else ""


def text(name: str, label: str, value: object = "", error: str = "", kind: str = "text",
         required: bool = False, hint: str = "", autocomplete: str = "off", key: str = "",
         suggestions: str = "") -> str:
    """``key`` makes the element id unique when the same field appears in several forms;
    ``suggestions`` names a ``<datalist>`` of values to offer."""
    fid, extra = _attrs(key or name, error)
    req = " required" if required else ""
    hint_html = f'<small>{escape(hint)}</small>' if hint else ""
    val = "" if value is None else escape(str(value))
    suggest = f' list="{escape(suggestions)}"' if suggestions else ""
    return (
        f'<div class="field{" bad" if error else ""}"><label for="{fid}">{escape(label)}</label>'
        f'<input id="{fid}" name="{name}" type="{kind}" value="{val}"'
        f' autocomplete="{autocomplete}"{suggest}{req}{extra}>{hint_html}{_error(key or name, error)}</div>'
    )


def select(name: str, label: str, options: list[tuple[str, str]], value: object = "",
           error: str = "", key: str = "") -> str:
    fid, extra = _attrs(key or name, error)
    opts = "".join(
        f'<option value="{escape(v)}"{" selected" if str(value) == v else ""}>{escape(t)}</option>'
        for v, t in options
    )
    return (
        f'<div class="field{" bad" if error else ""}"><label for="{fid}">{escape(label)}</label>'
        f'<select id="{fid}" name="{name}"{extra}>{opts}</select>{_error(key or name, error)}</div>'
    )


def checkbox(name: str, label: str, checked: bool = False) -> str:
    return (
        f'<div class="field check"><input id="f-{name}" name="{name}" type="checkbox" value="1"'
        f'{" checked" if checked else ""}><label for="f-{name}">{escape(label)}</label></div>'
    )


def password(name: str, label: str, value: str = "", error: str = "", shown: bool = False,
             generator: bool = True, autocomplete: str = "new-password") -> str:
    """A password input with Show (needs JS, hidden without it) and Generate buttons.

    Generate is a submit button: without JS the server fills in a generated
    password and shows it; with JS the page asks ``/password/generate``.
    """
    fid, extra = _attrs(name, error)
    kind = "text" if shown else "password"
    gen = (
        f'<button type="submit" name="generate" value="{name}" formnovalidate'
        f' data-generate="{fid}">Generate</button>' if generator else ""
    )
    return (
        f'<div class="field{" bad" if error else ""}"><label for="{fid}">{escape(label)}</label>'
        f'<span class="pw"><input id="{fid}" name="{name}" type="{kind}" value="{escape(value)}"'
        f' autocomplete="{autocomplete}" spellcheck="false"{extra}>'
        f'<button type="button" class="show" data-show="{fid}" hidden>Show</button>{gen}</span>'
        f'<small>At least 8 characters with an upper-case letter, a lower-case letter,'
        f' a digit and a special character.</small>{_error(name, error)}</div>'
    )


def hidden(name: str, value: str) -> str:
    return f'<input type="hidden" name="{name}" value="{escape(value)}">'


def default_submit(label: str = "Save") -> str:
    """The form's default button, first in the form: Enter in a field saves.

    Forms with Generate buttons need it, else Enter would press the first
    Generate button (implicit submission uses the first submit button).
    """
    return (f'<button type="submit" class="default-submit" tabindex="-1"'
            f' aria-hidden="true">{escape(label)}</button>')
