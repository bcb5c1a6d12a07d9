"""simulators: stand-in hardware, byte for byte.

The physics of a module (``module``), its injected defects with ground truth (``defects``),
the DTB firmware behind the RPC (``firmware``) with its emulated clock, and servers that expose
a simulated board over TCP or a pseudo-terminal. May import ``hal`` for shared definitions only.
"""
