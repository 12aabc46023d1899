from django.apps import AppConfig


class HospitalIntakeConfig(AppConfig):
    name = "hospital_intake"
    default_auto_field = "django.db.models.BigAutoField"
