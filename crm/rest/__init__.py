"""What every REST endpoint shares: problem-details errors, model permissions, keyset
cursor pagination and the OpenAPI additions that document them.

The router and the API's URLs are in ``crm/api.py``; endpoints live in ``<app>/api/``.
docs/api.md describes the conventions from a client's side.
"""
