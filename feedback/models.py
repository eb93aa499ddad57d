"""NPS surveys: definitions, invitations (each with its outbox message), responses.

A detractor's response (score 0-6) creates a follow-up for support staff at once
(feedback.services); the response keeps a link to it so the loop can be shown closed.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from campaigns.models import Message
from customers.models import Customer, FollowUp, Interaction, Order
from feedback.nps import nps_group


class Survey(models.Model):
    class Trigger(models.TextChoices):
        AFTER_ORDER = "after_order", "After a paid order"
        AFTER_INTERACTION = "after_interaction", "After a conversation with staff"
        PERIODIC = "periodic", "Periodically (active customers)"

    name = models.CharField(max_length=120)
    question = models.CharField(
        max_length=300,
        default="How likely are you to recommend us to a friend or colleague?",
    )
    comment_prompt = models.CharField(
        max_length=300, default="What is the main reason for your score?", blank=True
    )
    trigger = models.CharField(max_length=20, choices=Trigger.choices, default=Trigger.AFTER_ORDER)
    # Service businesses set months here: the article suggests asking a few months after
    # the work, once its effect can be judged.
    delay_days = models.PositiveIntegerField(
        default=14, help_text="Days after the order or interaction."
    )
    period_days = models.PositiveIntegerField(
        default=180, help_text="Periodic surveys: days between two surveys of one customer."
    )
    min_gap_days = models.PositiveIntegerField(
        default=90, help_text="At least this many days between two surveys of one customer."
    )
    sample_percent = models.PositiveSmallIntegerField(
        default=100, validators=[MinValueValidator(1), MaxValueValidator(100)]
    )
    follow_up_working_days = models.PositiveSmallIntegerField(
        default=2, help_text="A detractor's follow-up is due within this many working days."
    )
    resurvey_after_resolution = models.BooleanField(
        default=False, help_text="Ask a detractor again once their follow-up is resolved."
    )
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(sample_percent__gte=1) & Q(sample_percent__lte=100),
                name="survey_sample_percent_1_100",
            ),
            models.CheckConstraint(
                condition=Q(trigger__in=["after_order", "after_interaction", "periodic"]),
                name="survey_trigger_valid",
            ),
            models.CheckConstraint(condition=Q(period_days__gte=1), name="survey_period_gte_1"),
        ]

    def __str__(self) -> str:
        return self.name


class SurveyInvitation(models.Model):
    """One survey asked of one customer for one trigger (an order, an interaction, a period)."""

    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="invitations")
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="survey_invitations"
    )
    # "order:981", "interaction:77", "period:12", "resurvey:5": with survey and customer,
    # unique, so queueing twice queues nothing new.
    trigger_key = models.CharField(max_length=60)
    order = models.ForeignKey(
        Order, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    interaction = models.ForeignKey(
        Interaction, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    message = models.OneToOneField(
        Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="invitation"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["survey", "customer", "trigger_key"], name="invitation_once_per_trigger"
            ),
        ]
        indexes = [
            # the minimum gap: a customer's latest invitation
            models.Index(fields=["customer", "-created_at"], name="invitation_customer_idx"),
            # the queue job: invitations whose message is not queued yet (partial: almost
            # every row has its message, so this stays tiny)
            models.Index(
                fields=["created_at"],
                condition=Q(message__isnull=True),
                name="invitation_unqueued_idx",
            ),
            # feedback page: response rate of the invitations of a period
            models.Index(fields=["created_at"], name="invitation_date_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.survey_id} to {self.customer_id} for {self.trigger_key}"


class SurveyResponse(models.Model):
    invitation = models.OneToOneField(
        SurveyInvitation, on_delete=models.CASCADE, related_name="response"
    )
    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="responses")
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="survey_responses"
    )
    score = models.PositiveSmallIntegerField(validators=[MaxValueValidator(10)])
    comment = models.TextField(blank=True)
    # The staff member of the interaction the survey followed (NPS by staff member).
    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # A detractor's close-the-loop follow-up (at most one open at a time).
    follow_up = models.OneToOneField(
        FollowUp, null=True, blank=True, on_delete=models.SET_NULL, related_name="survey_response"
    )
    responded_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-responded_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(score__lte=10), name="response_score_0_10"),
        ]
        indexes = [
            # feedback page: NPS by month, latest comments
            models.Index(fields=["responded_at"], name="response_date_idx"),
            # customer page: the customer's answers
            models.Index(fields=["customer", "-responded_at"], name="response_customer_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.score} from {self.customer_id}"

    @property
    def nps_group(self) -> str:
        return nps_group(self.score)
