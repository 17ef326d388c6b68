"""Generate call (seed, secondary menu item 9, *Générer un appel*: "a test call or an
echo test using a dialplan procedure"), and recording a sound by phone from the
Sounds page (seed, "Enregistrement et lecture des messages audios").

The admin names the extension that rings first and the number it then dials
(``76``, the echo test, by default); the call engine's ``calls.originate`` does the
rest, and the page sends the admin to *Debug*, where the call's trace shows
live. Errors (unknown extension, no registered phone, bad number, unknown
procedure) come back next to their field and nothing is rung.
"""

from typing import Any

import bottle

from wpbxd.errors import UserError
from wpbxd.web import forms
from wpbxd.web.features import FeatureMissing
from wpbxd.web.kit import Kit, form

FEATURE = "calls.originate"
RECORD_FEATURE = "sounds.record"
ECHO_TEST = "76"
FIELDS = ("extension", "number", "procedure")
SUGGESTED = 300           # extensions offered as suggestions (the page stays light with 1,000 users)


def install(app: bottle.Bottle, kit: Kit) -> None:
    env, page, render, flash = kit.env, kit.page, kit.render, kit.flash

    def choices() -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        people = env.store.all("SELECT extension, name FROM users WHERE extension IS NOT NULL AND extension != ''"
                               " ORDER BY extension LIMIT ?", (SUGGESTED,))
        procs = env.store.all("SELECT name FROM procedures ORDER BY name")
        return ([(r["extension"], f"{r['extension']} {r['name']}") for r in people],
                [("", "The extension's own procedure")] + [(r["name"], r["name"]) for r in procs])

    def show(values: dict[str, str], errors: dict[str, str]) -> str:
        extensions, procedures = choices()
        return render("generate_call", "Generate call", "generate", values=values, errors=errors,
                      extensions=extensions, procedures=procedures)

    @app.get("/generate-call")
    @page
    def generate_form() -> str:
        if FEATURE not in env.commands():
            raise FeatureMissing("the call engine is not running")
        return show({"extension": "", "number": ECHO_TEST, "procedure": ""}, {})

    @app.post("/generate-call")
    @page
    def generate() -> Any:
        f = form()
        values = {k: f.get(k, "").strip() for k in FIELDS}
        try:
            call = env.call(FEATURE, values)
        except UserError as err:
            field, message = forms.error_field(err, FIELDS)
            bottle.response.status = 400
            return show(values, {field or "_": message})
        flash(f"Ringing {values['extension']}; once answered it dials {values['number']} "
              f"(call {call['call_id']}). Its trace follows below.")
        bottle.redirect("/debug", 303)

    @app.post("/sounds/record")
    @page
    def record() -> Any:
        if RECORD_FEATURE not in env.commands():
            raise FeatureMissing("the call engine is not running")
        f = form()
        name, extension = f.get("rec_name", "").strip(), f.get("rec_extension", "").strip()
        try:
            env.call(RECORD_FEATURE, {"name": name, "extension": extension})
        except UserError as err:
            flash(f"Not recorded: {getattr(err, 'message', str(err))}")
            bottle.redirect("/sounds", 303)
        flash(f"Calling {extension}: answer, speak after the beep, and hang up to save {name}.")
        bottle.redirect("/sounds", 303)
