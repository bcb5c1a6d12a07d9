"""A Modbus device (server) over RTU or TCP framing: the common part of Modbus twins.

Bytes come in through :meth:`ModbusSlave.feed` (from a pty or TCP server, see
:mod:`simulators.servers`), are cut into requests - RTU: ``unit fc data CRC16``, the request's
length known from its function code; TCP: the 7-byte MBAP header ``tid proto len unit`` then the
PDU - and answered like a real device: 0x03/0x04 read words, 0x06 writes one, 0x10 writes several.
A request with a bad CRC or for another unit gets no answer (as on an RS-485 bus); a function the
device lacks, a bad address or a bad value gets a Modbus exception reply (codes 1, 2, 3).
``resync()`` (the servers call it after a silence) drops a partial request, which is what the
3.5-character gap does on a serial line. ``mute = True`` makes the device stop answering.
"""

from __future__ import annotations

import struct

READ_HOLDING, READ_INPUT, WRITE_ONE, WRITE_MANY = 0x03, 0x04, 0x06, 0x10
ILLEGAL_FUNCTION, ILLEGAL_ADDRESS, ILLEGAL_VALUE = 1, 2, 3
MAX_READ_WORDS, MAX_WRITE_WORDS = 125, 123
MBAP_HEADER = 7


class ModbusException(Exception):
    """Raised by the register callbacks; carries the Modbus exception code."""

    def __init__(self, code: int):
        super().__init__(code)
        self.code = code


def crc16(data: bytes) -> int:
    """The Modbus RTU CRC-16 (polynomial 0xA001 reflected, initial 0xFFFF)."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def _rtu_length(buffer: bytes) -> int | None:
    """The length of the RTU request at the start of ``buffer`` (None: not all there yet)."""
    if len(buffer) < 2:
        return None
    fc = buffer[1]
    if fc == WRITE_MANY:
        return 9 + buffer[6] if len(buffer) >= 7 else None
    return 8  # 0x03, 0x04, 0x06 and (for an exception reply) anything else: 6 bytes + CRC


class ModbusSlave:
    """Base of Modbus twins: subclasses implement :meth:`read_words` and :meth:`write_words`.

    Parameters
    ----------
    unit : the device address (1..247).
    framing : ``"rtu"`` (serial line, pty) or ``"tcp"`` (Modbus TCP).
    """

    def __init__(self, unit: int = 1, framing: str = "rtu"):
        self.unit = unit
        self.framing = framing
        self.mute = False
        self.requests = 0  # answered requests (tests read it)
        self._buffer = b""

    # ---------------------------------------------------------------- to override
    def read_words(self, address: int, count: int) -> list[int]:  # pragma: no cover
        raise ModbusException(ILLEGAL_ADDRESS)

    def write_words(self, address: int, words: list[int]) -> None:  # pragma: no cover
        raise ModbusException(ILLEGAL_ADDRESS)

    # ---------------------------------------------------------------- bytes
    def resync(self) -> None:
        """Forget a partial request (a silence on the line)."""
        self._buffer = b""

    def feed(self, data: bytes) -> bytes:
        """Take received bytes; return the replies to every complete request among them."""
        if self.mute:
            self._buffer = b""
            return b""
        self._buffer += data
        out = []
        while True:
            frame = self._next_tcp() if self.framing == "tcp" else self._next_rtu()
            if frame is None:
                break
            if frame:
                out.append(frame)
        return b"".join(out)

    def _next_rtu(self) -> bytes | None:
        n = _rtu_length(self._buffer)
        if n is None or len(self._buffer) < n:
            return None
        frame, self._buffer = self._buffer[:n], self._buffer[n:]
        if crc16(frame[:-2]) != struct.unpack("<H", frame[-2:])[0]:
            self._buffer = b""  # lost sync: wait for the next silence
            return b""
        if frame[0] != self.unit:
            return b""
        pdu = self._pdu(frame[1:-2])
        reply = bytes([self.unit]) + pdu
        return reply + struct.pack("<H", crc16(reply))

    def _next_tcp(self) -> bytes | None:
        if len(self._buffer) < MBAP_HEADER:
            return None
        tid, proto, length, unit = struct.unpack(">HHHB", self._buffer[:MBAP_HEADER])
        end = 6 + length
        if len(self._buffer) < end:
            return None
        pdu_in, self._buffer = self._buffer[MBAP_HEADER:end], self._buffer[end:]
        if proto != 0 or length < 2:
            return b""
        if unit not in (self.unit, 0xFF):
            return b""
        pdu = self._pdu(pdu_in)
        return struct.pack(">HHHB", tid, 0, len(pdu) + 1, unit) + pdu

    def _pdu(self, pdu: bytes) -> bytes:
        fc = pdu[0]
        try:
            reply = self._execute(fc, pdu[1:])
        except ModbusException as exc:
            return bytes([fc | 0x80, exc.code])
        self.requests += 1
        return bytes([fc]) + reply

    def _execute(self, fc: int, data: bytes) -> bytes:
        if fc in (READ_HOLDING, READ_INPUT):
            address, count = _unpack(">HH", data)
            if not 1 <= count <= MAX_READ_WORDS:
                raise ModbusException(ILLEGAL_VALUE)
            words = self.read_words(address, count)
            return bytes([2 * count]) + struct.pack(f">{count}H", *words)
        if fc == WRITE_ONE:
            address, value = _unpack(">HH", data)
            self.write_words(address, [value])
            return data[:4]
        if fc == WRITE_MANY:
            address, count, nbytes = _unpack(">HHB", data[:5])
            if not 1 <= count <= MAX_WRITE_WORDS or nbytes != 2 * count or len(data) != 5 + nbytes:
                raise ModbusException(ILLEGAL_VALUE)
            self.write_words(address, list(struct.unpack(f">{count}H", data[5:])))
            return data[:4]
        raise ModbusException(ILLEGAL_FUNCTION)


def _unpack(fmt: str, data: bytes) -> tuple[int, ...]:
    try:
        return struct.unpack(fmt, data[:struct.calcsize(fmt)])
    except struct.error:
        raise ModbusException(ILLEGAL_VALUE) from None
