from django.urls import path

from feedback import views, views_public

app_name = "feedback"

urlpatterns = [
    path("feedback/", views.index, name="index"),
    path("feedback/surveys/", views.survey_list, name="surveys"),
    path("feedback/surveys/new/", views.survey_create, name="survey_create"),
    path("feedback/surveys/<int:pk>/edit/", views.survey_edit, name="survey_edit"),
    path("feedback/surveys/<int:pk>/active/", views.survey_active, name="survey_active"),
    # Public: the one-click answer links in survey emails (no login, signed token).
    path("s/<str:token>/", views_public.answer, name="answer"),
    path("s/<str:token>/thanks/", views_public.thanks, name="thanks"),
]
