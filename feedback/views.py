"""Feedback pages for staff: the NPS overview and survey management (thin doors)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from feedback import charts, selectors, services
from feedback.forms import SurveyForm
from feedback.models import Survey
from feedback.nps import GROUP_LABELS, MIN_RESPONSES


@permission_required("feedback.view_surveyresponse", raise_exception=True)
def index(request: HttpRequest) -> HttpResponse:
    survey = selectors.survey_from_param(request.GET.get("survey", ""))
    overview = selectors.feedback_overview(survey_id=survey.pk if survey else None)
    points = [
        charts.MonthPoint(
            label=m.month.strftime("%B %Y"),
            short=m.month.strftime("%b"),
            score=m.nps.score,
            n=m.nps.n,
            enough=m.nps.enough,
        )
        for m in overview.months
    ]
    return render(
        request,
        "feedback/index.html",
        {
            "o": overview,
            "survey": survey,
            "surveys": selectors.survey_options(),
            "month_chart": charts.nps_month_chart(points),
            "distribution_chart": charts.distribution_chart(overview.distribution),
            "group_labels": GROUP_LABELS,
            "min_responses": MIN_RESPONSES,
            "can_manage": request.user.has_perm("feedback.view_survey"),
        },
    )


@permission_required("feedback.view_survey", raise_exception=True)
def survey_list(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "feedback/surveys.html",
        {
            "surveys": selectors.survey_list(),
            "can_add": request.user.has_perm("feedback.add_survey"),
            "can_change": request.user.has_perm("feedback.change_survey"),
        },
    )


def _survey_form_page(request: HttpRequest, survey: Survey) -> HttpResponse:
    form = SurveyForm(request.POST or None, instance=survey)
    if request.method == "POST":
        if form.is_valid():
            services.survey_save(survey=form.instance)
            messages.success(request, f"Survey “{form.instance.name}” saved.")
            return redirect("feedback:surveys")
        messages.error(request, "The survey was not saved: correct the marked fields.")
    status = 400 if form.errors else 200
    return render(
        request, "feedback/survey_form.html", {"form": form, "survey": survey}, status=status
    )


@permission_required("feedback.add_survey", raise_exception=True)
def survey_create(request: HttpRequest) -> HttpResponse:
    return _survey_form_page(request, Survey())


@permission_required("feedback.change_survey", raise_exception=True)
def survey_edit(request: HttpRequest, pk: int) -> HttpResponse:
    return _survey_form_page(request, get_object_or_404(Survey, pk=pk))


@require_POST
@permission_required("feedback.change_survey", raise_exception=True)
def survey_active(request: HttpRequest, pk: int) -> HttpResponse:
    survey = get_object_or_404(Survey, pk=pk)
    active = request.POST.get("active") == "1"
    if services.survey_set_active(survey_id=survey.pk, active=active):
        verb = "reactivated" if active else "deactivated: it queues no more invitations"
        messages.success(request, f"Survey “{survey.name}” {verb}.")
    return redirect("feedback:surveys")
