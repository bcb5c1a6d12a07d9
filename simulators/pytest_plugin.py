"""pytest plugin (entry point ``pixcal_sim``): fixtures for simulated modules and ROCs."""
