"""Bed placement: admission requests to available beds across wards and institutions."""
