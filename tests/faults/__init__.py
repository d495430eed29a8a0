"""The project's fault suite: hostile files and misbehaving channels, as a table.

`python -m tests.faults` (or `make faults`) prints the tables; pytest runs the same cases.
"""
