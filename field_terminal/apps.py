from django.apps import AppConfig


class FieldTerminalConfig(AppConfig):
    name = "field_terminal"
    default_auto_field = "django.db.models.BigAutoField"
