"""Prefect flows: the nightly run, the morning delivery, the replay and the weekly report."""
