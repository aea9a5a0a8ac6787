"""The dashboard served to web browsers (`modelrace serve`)."""
