"""Celery workers: thin tasks that call engine services with adapters wired in."""
