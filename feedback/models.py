"""Surveys, invitations, responses and NPS arrive here."""
