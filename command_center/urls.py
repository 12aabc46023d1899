from django.urls import path

from command_center import review_views

urlpatterns = [
    path("<slug:slug>/review/", review_views.review, name="review"),
    path("<slug:slug>/review/state", review_views.review_state, name="review-state"),
    path("<slug:slug>/review/reports/", review_views.review_report_start,
         name="review-reports"),
    path("<slug:slug>/review/reports/<int:report_id>/", review_views.review_report_progress,
         name="review-report-status"),
    path("<slug:slug>/review/reports/<int:report_id>/<str:kind>",
         review_views.review_report_file, name="review-report-file"),
]
