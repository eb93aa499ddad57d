"""Writes of the campaigns app: the outbox now; campaigns, budgets and links later."""
