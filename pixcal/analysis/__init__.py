"""Pure analysis functions (numpy in, numpy out, no I/O), testable on arrays alone."""
