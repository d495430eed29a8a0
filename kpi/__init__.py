"""KPI pipeline for a district government's annual targets."""
