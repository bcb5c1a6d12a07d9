"""pixcal/procedures."""
