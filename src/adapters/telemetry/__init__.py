"""Telemetry adapters: JSON logs with redaction, OpenTelemetry tracing, Prometheus metrics.

Nothing here reads the environment at import time; the entrypoint calls `configure_logging`,
`configure_tracing` and wraps the port adapters (see the module docstrings).
"""
