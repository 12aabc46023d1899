from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from ambulance import views as ambulance_views
from command_center import views as command_views
from field_terminal import views as field_views
from hospital_intake import api as hospital_api
from hospital_intake import views as hospital_views
from hub import api, metrics, views
from hub.security import ThrottledAuthenticationForm
from teleconsult import api as consult_api
from teleconsult import views as consult_views

api_v1 = [
    path("events/", api.EventList.as_view(), name="api-events"),
    path("casualties/", api.CasualtyList.as_view(), name="api-casualties"),
    path("casualties/<uuid:pk>/", api.CasualtyDetail.as_view(), name="api-casualty"),
    path("casualties/<uuid:pk>/fhir", hospital_api.CasualtyFhir.as_view(),
         name="api-casualty-fhir"),
    path("casualties/<uuid:pk>/fhir/handover", hospital_api.CasualtyHandoverFhir.as_view(),
         name="api-casualty-fhir-handover"),
    path("units/", api.UnitList.as_view(), name="api-units"),
    path("hospitals/", api.HospitalList.as_view(), name="api-hospitals"),
    path("hospitals/<str:code>/have.xml", hospital_api.HospitalHaveExport.as_view(),
         name="api-hospital-have"),
    path("hospitals/<str:code>/have", hospital_api.HospitalHaveImport.as_view(),
         name="api-hospital-have-import"),
    path("transports/", api.TransportList.as_view(), name="api-transports"),
    path("consults/queue", consult_api.ConsultQueue.as_view(), name="api-consult-queue"),
    path("consults/ice-servers", consult_api.IceServers.as_view(), name="api-ice-servers"),
    path("media/", api.MediaUpload.as_view(), name="api-media-upload"),
    path("media/<uuid:media_id>", api.MediaDownload.as_view(), name="api-media"),
]

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("metrics", metrics.metrics_view, name="metrics"),
    path("command/", command_views.console, name="command-console"),
    path("command/", include("command_center.urls")),
    path("hospital/", hospital_views.receiving_screen, name="hospital-screen"),
    path("field/", field_views.tablet, name="field-tablet"),
    path("field/sw.js", field_views.service_worker, name="field-service-worker"),
    path("field/manifest.webmanifest", field_views.manifest, name="field-manifest"),
    path("ambulance/", ambulance_views.onboard, name="ambulance-onboard"),
    path("expert/", consult_views.expert_console, name="expert-console"),
    path("login/", auth_views.LoginView.as_view(
        template_name="hub/login.html", authentication_form=ThrottledAuthenticationForm,
    ), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
]
