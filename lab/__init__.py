"""The team's measurement lab, outside the installed packages: probes that study the shared test
host rather than serve a user (run as `python -m lab.NAME`; tests with `python -m pytest lab`)."""
