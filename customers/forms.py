from __future__ import annotations

import datetime as dt

from django import forms
from django.utils import timezone

from customers.models import AcquisitionChannel, ConsentPurpose, Customer, Interaction


class CustomerSearchForm(forms.Form):
    q = forms.CharField(required=False, label="Search", max_length=200)
    channel = forms.ChoiceField(
        required=False, choices=[("", "Any channel"), *AcquisitionChannel.choices]
    )
    tag = forms.CharField(required=False, max_length=64)


class InteractionForm(forms.Form):
    kind = forms.ChoiceField(choices=Interaction.Kind.choices, initial=Interaction.Kind.CALL)
    direction = forms.ChoiceField(
        choices=Interaction.Direction.choices, initial=Interaction.Direction.OUTBOUND
    )
    occurred_at = forms.DateTimeField(
        label="When",
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text="Leave empty for now.",
    )
    summary = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=5000)
    outcome = forms.ChoiceField(
        choices=Interaction.Outcome.choices, initial=Interaction.Outcome.NEUTRAL
    )
    follow_up_on = forms.DateField(
        label="Follow up by",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    follow_up_reason = forms.CharField(label="Follow-up note", required=False, max_length=200)

    def clean_summary(self) -> str:
        summary = self.cleaned_data["summary"].strip()
        if not summary:
            raise forms.ValidationError("Say what was discussed.")
        return summary

    def clean_occurred_at(self) -> dt.datetime | None:
        value = self.cleaned_data.get("occurred_at")
        if value and value > timezone.now() + dt.timedelta(minutes=5):
            raise forms.ValidationError("An interaction cannot be in the future.")
        return value

    def clean(self) -> dict[str, object]:
        data = super().clean()
        follow_up_on = data.get("follow_up_on")
        if data.get("outcome") == Interaction.Outcome.FOLLOW_UP and not follow_up_on:
            self.add_error("follow_up_on", "Pick a date for the follow-up this outcome needs.")
        if follow_up_on and follow_up_on < timezone.localdate():
            self.add_error("follow_up_on", "A follow-up date cannot be in the past.")
        return data


class ConsentForm(forms.Form):
    purpose = forms.ChoiceField(choices=ConsentPurpose.choices)
    granted = forms.TypedChoiceField(
        choices=[("1", "Granted"), ("0", "Withdrawn")], coerce=lambda v: v == "1", label="State"
    )
    note = forms.CharField(required=False, max_length=200, help_text="How the customer said it.")


class FollowUpDoneForm(forms.Form):
    resolution = forms.CharField(required=False, max_length=200)


class CustomerForm(forms.ModelForm):
    tags_text = forms.CharField(
        label="Interests and tags",
        required=False,
        max_length=1000,
        help_text="Separate with commas, e.g. running, eco, gifts.",
    )

    class Meta:
        model = Customer
        fields = [
            "name",
            "email",
            "phone",
            "external_id",
            "locale",
            "country",
            "acquisition_channel",
            "acquired_at",
            "loyalty_member_since",
        ]
        widgets = {
            "acquired_at": forms.DateInput(attrs={"type": "date"}),
            "loyalty_member_since": forms.DateInput(attrs={"type": "date"}),
        }
        labels = {"external_id": "External id", "acquired_at": "Customer since"}

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk and "tags_text" not in self.initial:
            self.initial["tags_text"] = ", ".join(t.name for t in self.instance.tags.all())

    def clean_email(self) -> str | None:
        email = (self.cleaned_data.get("email") or "").strip()
        if not email:
            return None
        clash = Customer.objects.filter(email__iexact=email).exclude(pk=self.instance.pk)
        if clash.exists():
            raise forms.ValidationError("Another customer already has this email address.")
        return email

    def clean_external_id(self) -> str | None:
        return (self.cleaned_data.get("external_id") or "").strip() or None

    def clean_country(self) -> str:
        country = (self.cleaned_data.get("country") or "").strip().upper()
        if country and (len(country) != 2 or not country.isalpha()):
            raise forms.ValidationError("Use the two-letter country code, e.g. PL or UA.")
        return country

    def clean_name(self) -> str:
        return self.cleaned_data["name"].strip()

    def clean(self) -> dict[str, object]:
        data = super().clean()
        if not data.get("name") and not data.get("email"):
            raise forms.ValidationError("Give at least a name or an email address.")
        return data

    def tag_names(self) -> list[str]:
        return [t for t in self.cleaned_data.get("tags_text", "").split(",") if t.strip()]
