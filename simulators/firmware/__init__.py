"""simulators/firmware."""
