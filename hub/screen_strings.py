"""Words more than one screen shows, declared once so the screens cannot drift apart."""

from django.utils.translation import gettext_lazy as _

# START/SALT category names of PROTOCOL.md's `category` values.
TRIAGE_CATEGORY_STRINGS = {
    "category.red": _("Immediate"), "category.yellow": _("Delayed"),
    "category.green": _("Minor"), "category.black": _("Expectant"),
}
