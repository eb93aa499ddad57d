"""The Celery app and THE beat schedule: every periodic job of Rapport is listed here.

Each entry says when it runs and why; each job also has a management command that
calls the same service, so an administrator can run it by hand.
"""

from __future__ import annotations

import os

from celery import Celery
from celery.schedules import crontab

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")

app = Celery("rapport")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

app.conf.beat_schedule = {
    # Every minute: send the outbox's due emails (surveys, campaigns, transactional),
    # checking consent, unsubscribe and the contact limit at send time. Rows are claimed
    # in the database, so overlapping runs share the work (manage.py send_due_messages).
    "send-due-messages": {
        "task": "campaigns.tasks.send_due_messages",
        "schedule": 60.0,
    },
    # Every hour at :05: find who is due for an NPS survey (some days after a paid order
    # or an interaction, or periodically) and queue one invitation each; the send job
    # above then emails them. Idempotent, so an overlap or a retry queues nothing twice
    # (manage.py queue_due_surveys).
    "queue-due-surveys": {
        "task": "feedback.tasks.queue_due_surveys",
        "schedule": crontab(minute=5),
    },
    # 07:00 every day, before support staff start: each person with open follow-ups
    # gets one email listing what is overdue and due today (manage.py send_followup_digest).
    "follow-up-digest": {
        "task": "customers.tasks.send_followup_digest",
        "schedule": crontab(hour=7, minute=0),
    },
    # 02:30 every night, after the day's orders are in and before the 07:00 digest:
    # refit the value model on the whole base and rewrite every customer's values and
    # segment (manage.py recompute_clv). Safe to fire twice: the run claims its date.
    "recompute-customer-value": {
        "task": "customers.tasks.recompute_customer_value",
        "schedule": crontab(hour=2, minute=30),
    },
    # 03:30 every day, a quiet hour: forget API Idempotency-Key responses older than
    # their 24 hours, so the table stays small (manage.py purge_idempotency_keys).
    "purge-idempotency-keys": {
        "task": "crm.tasks.purge_idempotency_keys",
        "schedule": crontab(hour=3, minute=30),
    },
}
