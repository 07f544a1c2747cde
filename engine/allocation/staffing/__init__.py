"""Nurse staffing: staff to ward x shift over a horizon."""
