"""Pure transforms (no I/O) and the select-only SQL of the marts."""
