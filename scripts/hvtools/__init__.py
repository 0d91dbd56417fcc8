"""Python glue of hvlab: the matrix runner, run-directory readers, figures and the report.

Standard library only, so that the scripts run with Debian's python3 and nothing else.
"""
