"""The pages behind the answer links of a survey email: no login, a signed token.

GET shows the question with the clicked score preselected and records nothing: mail
scanners and link previews open every link in a message. POST (the form on that page,
with its CSRF token) records the answer; sending it again updates the same answer.
The pages show the question and the customer's own answer, nothing else about them.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from feedback import links, selectors, services
from feedback.forms import AnswerForm
from feedback.models import SurveyInvitation, SurveyResponse
from feedback.nps import is_detractor


def _page(request: HttpRequest, template: str, context: dict, status: int = 200) -> HttpResponse:
    response = render(request, template, context, status=status)
    # A token in the address is a key to someone's answer: keep it out of search engines.
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


def _refused(request: HttpRequest, *, reason: str, status: int) -> HttpResponse:
    return _page(request, "feedback/link_invalid.html", {"reason": reason}, status=status)


def _invitation(
    request: HttpRequest, token: str
) -> tuple[SurveyInvitation | None, int, HttpResponse | None]:
    try:
        link = links.score_token_read(token)
    except links.LinkExpired:
        return None, 0, _refused(request, reason="expired", status=400)
    except links.LinkInvalid:
        return None, 0, _refused(request, reason="invalid", status=400)
    invitation = selectors.invitation_for_answer(invitation_id=link.invitation_id)
    if invitation is None:
        return None, 0, _refused(request, reason="gone", status=404)
    return invitation, link.score, None


def _existing(invitation: SurveyInvitation) -> SurveyResponse | None:
    try:
        return invitation.response
    except SurveyResponse.DoesNotExist:
        return None


@login_not_required
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def answer(request: HttpRequest, token: str) -> HttpResponse:
    invitation, score, refused = _invitation(request, token)
    if refused is not None:
        return refused
    previous = _existing(invitation)
    if request.method == "POST":
        form = AnswerForm(request.POST)
        if form.is_valid():
            services.response_record(
                invitation_id=invitation.pk,
                score=form.cleaned_data["score"],
                comment=form.cleaned_data["comment"],
            )
            return redirect(reverse("feedback:thanks", args=[token]))
    else:
        form = AnswerForm(initial={"score": score, "comment": previous.comment if previous else ""})
    chosen = form["score"].value()
    context = {
        "form": form,
        "survey": invitation.survey,
        "chosen": int(chosen) if str(chosen).isdigit() else None,
        "scores": links.SCORES,
        "previous": previous,
    }
    return _page(request, "feedback/answer.html", context, status=400 if form.errors else 200)


@login_not_required
@never_cache
@require_http_methods(["GET", "HEAD"])
def thanks(request: HttpRequest, token: str) -> HttpResponse:
    invitation, _score, refused = _invitation(request, token)
    if refused is not None:
        return refused
    answer_ = _existing(invitation)
    if answer_ is None:  # opened before answering: the question first
        return redirect(reverse("feedback:answer", args=[token]))
    context = {
        "survey": invitation.survey,
        "answer": answer_,
        "detractor": is_detractor(answer_.score),
        "token": token,
    }
    return _page(request, "feedback/thanks.html", context)
