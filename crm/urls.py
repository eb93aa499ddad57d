from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from crm import views

admin.site.site_header = "Rapport administration"
admin.site.site_title = "Rapport admin"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("team/", views.team, name="team"),
    path("team/api-keys/", views.api_keys, name="api-keys"),
    path("team/api-keys/<int:pk>/revoke/", views.api_key_revoke, name="api-key-revoke"),
    path("healthz", views.healthz, name="healthz"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("api/", include("crm.api")),
    path("", include("customers.urls")),
    path("", include("campaigns.urls")),
    path("", include("feedback.urls")),
    path("admin/", admin.site.urls),
]

# Problem JSON under /api/, templates/500.html elsewhere.
handler500 = "crm.rest.problems.server_error"
