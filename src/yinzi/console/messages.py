"""Messages of the services and the error hierarchy that the console shows translated.

Services raise errors in English (the APIs' clients read them); a console page passes the text
through the catalogue (:func:`yinzi.console.forms.alert`), so each message the console knows is
listed here, marked for the extractor. A message not listed is shown as it is, marked
``lang="en"``.
"""

from __future__ import annotations

from yinzi.console.i18n import N_

SERVICE_MESSAGES = (
    N_("Wrong email or password."),
    N_("Too many failed sign-ins. Wait a few minutes and try again."),
    N_("The password must have at least 8 characters."),
    N_("The password must have at most 200 characters."),
    N_("The two passwords are not the same."),
    N_("The current password is wrong."),
    N_("This link is not valid: it was used already, it expired, or it was never issued."),
    N_("The key needs a name."),
    N_("A key's name has at most 100 characters."),
)
