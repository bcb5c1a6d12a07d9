"""pixcal/config."""
