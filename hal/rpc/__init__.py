"""The DTB's binary RPC: signature language, message codec, framing and the client.

Wire format (little-endian, as the DTB firmware speaks it): a *command message* ``C0 id16 n8`` + n
bytes of packed scalars, and a *data message* ``C2 len24`` + payload (one vector or string). A
request is one command message (plain and in/out scalars) followed by one data message per input
vector/string; a reply (only for functions with outputs) reuses the request id and carries the
return value, then the in/out scalars, then one data message per output vector/string.

Functions are named ``Name$sig``: the first signature letter is the return type, then one code
per parameter - type letters ``v b c C s S i I l L`` (void, bool, int8, uint8, int16, uint16,
int32, uint32, int64, uint64), optionally prefixed by ``0`` in/out scalar, ``1`` input vector,
``2`` output vector, ``3`` input string, ``4`` output string, ``5`` output DAQ ("hardware")
vector.

Calling convention (client :meth:`RpcClient.call` and server handlers alike): inputs in
declaration order - scalars and in/out scalars as ints (bool for ``b``), input vectors as numpy
arrays (or sequences), input strings as str. Outputs: None if the function has none, otherwise a
tuple - the return value (unless void), each in/out scalar, each output vector (numpy array) or
string (str), in that order.

The codec functions (:func:`encode_request`, :func:`decode_request`, :func:`encode_reply`,
:func:`decode_reply`) and :class:`MessageFramer` are independent of any transport, so the
simulated firmware (``simulators.firmware.rpcserver``) and the bridge reuse them.
"""

from hal.rpc.client import (
    FIXED_IDS,
    GET_RPC_CALL_ID,
    GET_RPC_VERSION,
    RESYNC_QUIET_S,
    Compatibility,
    RpcClient,
)
from hal.rpc.codec import (
    command_message,
    data_message,
    decode_reply,
    decode_reply_bytes,
    decode_request,
    encode_reply,
    encode_request,
)
from hal.rpc.framing import Message, MessageFramer
from hal.rpc.signature import (
    CMD,
    DATA,
    LEGACY_DATA,
    MAX_DATA,
    MAX_SCALARS,
    MAX_STRING_IN,
    Param,
    Signature,
    signature,
)

__all__ = [
    "CMD", "DATA", "FIXED_IDS", "GET_RPC_CALL_ID", "GET_RPC_VERSION", "LEGACY_DATA", "MAX_DATA",
    "MAX_SCALARS", "MAX_STRING_IN", "RESYNC_QUIET_S", "Compatibility", "Message", "MessageFramer",
    "Param", "RpcClient", "Signature", "command_message", "data_message", "decode_reply",
    "decode_reply_bytes", "decode_request", "encode_reply", "encode_request", "signature",
]
