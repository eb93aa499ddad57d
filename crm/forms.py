from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model

from crm.models import ApiScope
from crm.roles import ROLE_CHOICES


class UserCreateForm(forms.Form):
    username = forms.CharField(max_length=150)
    email = forms.EmailField(required=False)
    first_name = forms.CharField(max_length=150, required=False)
    last_name = forms.CharField(max_length=150, required=False)
    # Least privilege unless the admin picks otherwise.
    role = forms.ChoiceField(choices=ROLE_CHOICES, initial="support")

    def clean_username(self) -> str:
        username = self.cleaned_data["username"].strip()
        if get_user_model().objects.filter(username__iexact=username).exists():
            raise forms.ValidationError("A user with that username already exists.")
        return username


class ApiKeyCreateForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What will use the key, e.g. Shopify sync.")
    scopes = forms.MultipleChoiceField(
        choices=ApiScope.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text="Give an integration only the scopes it needs.",
    )
