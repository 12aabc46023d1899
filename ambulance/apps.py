from django.apps import AppConfig


class AmbulanceConfig(AppConfig):
    name = "ambulance"
    default_auto_field = "django.db.models.BigAutoField"
