from __future__ import annotations

from django import forms

from feedback.links import SCORES
from feedback.models import Survey


class SurveyForm(forms.ModelForm):
    class Meta:
        model = Survey
        fields = [
            "name",
            "trigger",
            "delay_days",
            "period_days",
            "min_gap_days",
            "sample_percent",
            "follow_up_working_days",
            "question",
            "comment_prompt",
            "resurvey_after_resolution",
        ]
        labels = {
            "delay_days": "Delay (days)",
            "period_days": "Period (days)",
            "min_gap_days": "Minimum gap (days)",
            "sample_percent": "Sample (%)",
            "follow_up_working_days": "Detractor follow-up within (working days)",
            "resurvey_after_resolution": "Ask detractors again after their follow-up",
        }
        help_texts = {
            "trigger": "When a customer becomes due for this survey.",
            "delay_days": (
                "Days after the order or interaction. Service businesses: ask once the work's"
                " effect can be judged, often a few months."
            ),
            "sample_percent": (
                "Ask this share of the customers who are due (the same ones on a re-run)."
            ),
        }
        widgets = {
            "question": forms.TextInput(),
            "comment_prompt": forms.TextInput(),
        }

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError("Give the survey a name.")
        return name


class AnswerForm(forms.Form):
    score = forms.TypedChoiceField(
        choices=[(s, str(s)) for s in SCORES],
        coerce=int,
        widget=forms.RadioSelect,
        error_messages={"required": "Pick a score from 0 to 10."},
    )
    comment = forms.CharField(
        required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 4})
    )
