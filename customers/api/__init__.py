"""REST endpoints of the customers app (registered in crm/api.py)."""
