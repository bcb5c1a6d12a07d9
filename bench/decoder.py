"""Decoder throughput on realistic TBM08c module channel streams; prints one JSON line.

Streams: the simulator's encoder writes one DAQ channel of a TBM08c module (8 ROCs, DESER400,
base-6 addresses) with exactly 0, 1 or 4 hits per ROC per event, readback bits in 16-event
cycles and realistic XOR values. Each stream (``--mbytes`` x 10^6 bytes) is fed to a fresh
:class:`hal.decoder.StreamDecoder` in 10^6-byte buffers, as a DAQ drain would; throughput is
10^6 bytes of 16-bit words per second, best of ``--repeat`` warm runs (the machine is shared).
``compile_s`` is the first call's extra time (numba compile, or loading its on-disk cache:
``cached`` says which). ``encode_effmap_s``: the simulator's encoder writing a full-module
efficiency map (41,600 triggers x 2 channels, one hit per ROC per trigger), best of 3.

Usage: ``python bench/decoder.py [--mbytes 4] [--repeat 7]``
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from hal.decoder import StreamDecoder
from simulators.firmware.encoder import encode
from simulators.firmware.events import HIT_DTYPE, ChannelLayout, EventBatch

LAYOUT = ChannelLayout(deser=400, channels=(tuple(range(8)), tuple(range(8, 16))),
                       address="base6")
CHUNK_BYTES = 10**6
EFFICIENCY_MAP_EVENTS = 4160 * 10  # every pixel, Ntrig 10


def module_batch(hits_per_roc: int, n_ev: int, seed: int = 1) -> EventBatch:
    """``n_ev`` triggers of a 16-ROC module with exactly ``hits_per_roc`` hits per ROC."""
    rng = np.random.default_rng(seed)
    n_hits = n_ev * 16 * hits_per_roc
    hits = np.zeros(n_hits, HIT_DTYPE)
    hits["ev"] = np.repeat(np.arange(n_ev), 16 * hits_per_roc)
    hits["roc"] = np.tile(np.repeat(np.arange(16), hits_per_roc), n_ev)
    hits["col"] = rng.integers(0, 52, n_hits)
    hits["row"] = rng.integers(0, 80, n_hits)
    hits["ph"] = rng.integers(40, 160, n_hits)
    rb = (rng.integers(0, 2, (n_ev, 16)) | ((np.arange(n_ev) % 16 == 0)[:, None] << 1))
    return EventBatch(
        n_events=n_ev, event_numbers=(np.arange(n_ev) % 256).astype(np.uint8), hits=hits,
        rb_bits=rb.astype(np.uint8), xor=rng.integers(0x20, 0xC0, (n_ev, 16)).astype(np.uint8),
        data_id=np.full(n_ev, 0xC0, np.uint8), trailer=np.zeros(n_ev, np.uint16),
    )


def module_stream(hits_per_roc: int, mbytes: float) -> np.ndarray:
    """Channel-0 words of a TBM08c module, about ``mbytes`` x 10^6 bytes."""
    words_per_event = 2 + 8 * (1 + 2 * hits_per_roc) + 2
    n_ev = int(mbytes * 1e6 / 2 / words_per_event) + 1
    return encode(LAYOUT, module_batch(hits_per_roc, n_ev))[0]


def encode_seconds(n_ev: int = EFFICIENCY_MAP_EVENTS) -> float:
    """Seconds to encode a full-module efficiency map (1 hit per ROC per event, 2 channels)."""
    batch = module_batch(1, n_ev)
    t0 = time.perf_counter()
    encode(LAYOUT, batch)
    return time.perf_counter() - t0


def decode_stream(words: np.ndarray) -> float:
    """Seconds to decode ``words`` in 10^6-byte buffers with a fresh decoder."""
    dec = StreamDecoder(deser=400, roc_ids=LAYOUT.channels[0], address="base6")
    step = CHUNK_BYTES // 2
    t0 = time.perf_counter()
    for i in range(0, len(words), step):
        dec.feed(words[i:i + step])
    dec.finish()
    elapsed = time.perf_counter() - t0
    assert dec.stats.events_dropped == 0 and dec.stats.errors() == {}, dec.stats.errors()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mbytes", type=float, default=4.0)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()

    from hal.decoder_kernel import decode_events

    tiny = module_stream(1, 0.001)
    t0 = time.perf_counter()
    decode_stream(tiny)
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    decode_stream(tiny)
    compile_s = first - (time.perf_counter() - t0)
    result: dict[str, object] = {}
    for k in (0, 1, 4):
        words = module_stream(k, args.mbytes)
        best = min(decode_stream(words) for _ in range(args.repeat))
        result[f"mb_s_{k}"] = round(words.nbytes / best / 1e6, 1)
    result["compile_s"] = round(compile_s, 3)
    result["encode_effmap_s"] = round(min(encode_seconds() for _ in range(3)), 3)
    result["cached"] = decode_events.stats.cache_hits.total() > 0
    result["mbytes"] = args.mbytes
    result["chunk_bytes"] = CHUNK_BYTES
    print(json.dumps(result))


if __name__ == "__main__":
    main()
