"""Campaigns, budgets (6:3:1), channels, tracked links and frequency caps arrive here."""
