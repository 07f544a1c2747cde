"""Procedure scheduling: procedures into rooms and start times."""
