from django.urls import path

from campaigns import views

app_name = "campaigns"

urlpatterns = [
    path("campaigns/", views.index, name="index"),
    # Public (signed token, no login): short, because it sits in every email.
    path("u/<str:token>/", views.unsubscribe, name="unsubscribe"),
]
