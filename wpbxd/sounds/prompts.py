"""The system prompts: what the PBX says, per language (spoken by espeak-ng at build time).

Rule: text only. ``library.py`` turns these into 8 kHz WAV files; applications
refer to prompts by these names.
"""

LANGUAGES = {"en": "en", "fr": "fr", "de": "de", "it": "it", "es": "es", "nl": "nl"}  # code -> espeak voice
DEFAULT_LANGUAGE = "en"
MAX_PACKAGES = 3          # seed "Langue & région": at most three sound packages at once

PROMPTS: dict[str, dict[str, str]] = {
    "echo_test": {"en": "Echo test. Speak, and you will hear yourself.",
                  "fr": "Test d'écho. Parlez, et vous entendrez votre voix."},
    "enter_extension": {"en": "Please enter your extension number, then press hash.",
                        "fr": "Veuillez composer votre numéro de poste, puis dièse."},
    "enter_password": {"en": "Please enter your password, then press hash.",
                       "fr": "Veuillez composer votre mot de passe, puis dièse."},
    "login_ok": {"en": "You are logged in.", "fr": "Vous êtes connecté."},
    "login_failed": {"en": "Login incorrect.", "fr": "Identifiant incorrect."},
    "vm_unavailable": {"en": "The person you are calling is not available. Please leave a message "
                             "after the tone, and press hash when done.",
                       "fr": "Votre correspondant n'est pas disponible. Laissez un message après le bip, "
                             "puis appuyez sur dièse."},
    "vm_saved": {"en": "Your message has been saved. Goodbye.",
                 "fr": "Votre message a été enregistré. Au revoir."},
    "vm_enter_mailbox": {"en": "Please enter your mailbox number, then press hash.",
                         "fr": "Veuillez composer le numéro de votre messagerie, puis dièse."},
    "vm_enter_pin": {"en": "Please enter your PIN, then press hash.",
                     "fr": "Veuillez composer votre code secret, puis dièse."},
    "vm_you_have": {"en": "You have", "fr": "Vous avez"},
    "vm_messages": {"en": "messages.", "fr": "messages."},
    "vm_no_messages": {"en": "You have no messages.", "fr": "Vous n'avez aucun message."},
    "vm_menu": {"en": "Press 1 to listen again, 7 to delete, 9 for the next message.",
                "fr": "Appuyez sur 1 pour réécouter, 7 pour supprimer, 9 pour le message suivant."},
    "vm_deleted": {"en": "Message deleted.", "fr": "Message supprimé."},
    "vm_end": {"en": "No more messages. Goodbye.", "fr": "Plus de messages. Au revoir."},
    "switch_enter": {"en": "Please enter the switch number, then press hash.",
                     "fr": "Veuillez composer le numéro du switch, puis dièse."},
    "switch_on": {"en": "The switch is now on.", "fr": "Le switch est maintenant activé."},
    "switch_off": {"en": "The switch is now off.", "fr": "Le switch est maintenant désactivé."},
    "switch_extra": {"en": "The switch is now in its third state.",
                     "fr": "Le switch est maintenant dans son troisième état."},
    "invalid": {"en": "Invalid entry.", "fr": "Choix invalide."},
    "goodbye": {"en": "Goodbye.", "fr": "Au revoir."},
    **{f"digit_{d}": {"en": en, "fr": fr} for d, en, fr in (
        ("0", "zero", "zéro"), ("1", "one", "un"), ("2", "two", "deux"), ("3", "three", "trois"),
        ("4", "four", "quatre"), ("5", "five", "cinq"), ("6", "six", "six"), ("7", "seven", "sept"),
        ("8", "eight", "huit"), ("9", "nine", "neuf"))},
}
