"""hal: the hardware abstraction layer.

Bytes (``transport``), messages (``rpc``), board calls (``dtb``), register maps (``chips``),
read-out data words (``decoder``) and the measurement level (``api``). No physics, no analysis,
no files; ``hal`` never imports ``pixcal`` or ``simulators``.
"""
