from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


@permission_required("customers.view_customer", raise_exception=True)
def index(request: HttpRequest) -> HttpResponse:
    return render(request, "feedback/index.html")
