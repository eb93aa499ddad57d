from django.urls import path

from customers import views, views_value

app_name = "customers"

urlpatterns = [
    path("customers/", views.customer_list, name="list"),
    path("customers/new/", views.customer_create, name="create"),
    path("customers/<int:pk>/", views.customer_detail, name="detail"),
    path("customers/<int:pk>/edit/", views.customer_edit, name="edit"),
    path("customers/<int:pk>/interactions/", views.interaction_create, name="interaction_create"),
    path("customers/<int:pk>/consent/", views.consent_create, name="consent_create"),
    path("segments/", views_value.segment_list, name="segments"),
    path("segments/<slug:slug>/", views_value.segment_detail, name="segment"),
    path("value/", views_value.model_quality, name="model"),
    path("value/run/", views_value.value_run_start, name="value_run"),
    path("follow-ups/", views.followup_queue, name="followups"),
    path("follow-ups/<int:pk>/done/", views.followup_done, name="followup_done"),
]
