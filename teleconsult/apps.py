from django.apps import AppConfig


class TeleconsultConfig(AppConfig):
    name = "teleconsult"
    default_auto_field = "django.db.models.BigAutoField"
