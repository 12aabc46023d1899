from django.apps import AppConfig


class CommandCenterConfig(AppConfig):
    name = "command_center"
    default_auto_field = "django.db.models.BigAutoField"
