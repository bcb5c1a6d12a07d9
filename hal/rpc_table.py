"""The DTB's RPC function table (firmware NIOS SW 4.7, FPGA FW 4.6; reference/dtb.md Appendix A).

``NAMES`` lists the 154 ``Name$sig`` strings in table order: a name's position is its call id on
a board running this firmware. Ids 0 (``GetRpcVersion``) and 1 (``GetRpcCallId``) are fixed for
every firmware; every other id must be resolved by name at run time (see :mod:`hal.rpc`).

The interface hash (:func:`table_hash`) is what ``GetRpcCallHash`` returns on a board with this
exact table; for ``NAMES`` it is :data:`TABLE_HASH` = 486171790.
"""

from __future__ import annotations

from collections.abc import Sequence

NAMES: tuple[str, ...] = (
    "GetRpcVersion$S",  # 0
    "GetRpcCallId$i3c",  # 1
    "GetRpcTimestamp$v4c",  # 2
    "GetRpcCallCount$i",  # 3
    "GetRpcCallName$bi4c",  # 4
    "GetRpcCallHash$I",  # 5
    "GetInfo$v4c",  # 6
    "GetBoardId$S",  # 7
    "GetHWVersion$v4c",  # 8
    "GetFWVersion$S",  # 9
    "GetSWVersion$S",  # 10
    "UpgradeGetVersion$S",  # 11
    "UpgradeStart$CS",  # 12
    "UpgradeData$C3c",  # 13
    "UpgradeError$C",  # 14
    "UpgradeErrorMsg$v4c",  # 15
    "UpgradeExec$vS",  # 16
    "Init$v",  # 17
    "Welcome$v",  # 18
    "SetLed$vC",  # 19
    "cDelay$vS",  # 20
    "uDelay$vS",  # 21
    "SetClockSource$vC",  # 22
    "IsClockPresent$b",  # 23
    "SetClock$vC",  # 24
    "SetClockStretch$vCSS",  # 25
    "Sig_SetMode$vCC",  # 26
    "Sig_SetPRBS$vCC",  # 27
    "Sig_SetDelay$vCSc",  # 28
    "Sig_SetLevel$vCC",  # 29
    "Sig_SetOffset$vC",  # 30
    "Sig_SetLVDS$v",  # 31
    "Sig_SetLCDS$v",  # 32
    "Sig_SetRdaToutDelay$vC",  # 33
    "SignalProbeD1$vC",  # 34
    "SignalProbeD2$vC",  # 35
    "SignalProbeDeserD1$vCC",  # 36
    "SignalProbeDeserD2$vCC",  # 37
    "SignalProbeA1$vC",  # 38
    "SignalProbeA2$vC",  # 39
    "SignalProbeADC$vCC",  # 40
    "Pon$v",  # 41
    "Poff$v",  # 42
    "_SetVD$vS",  # 43
    "_SetVA$vS",  # 44
    "_SetID$vS",  # 45
    "_SetIA$vS",  # 46
    "_GetVD$S",  # 47
    "_GetVA$S",  # 48
    "_GetID$S",  # 49
    "_GetIA$S",  # 50
    "_GetVD_Reg$S",  # 51
    "_GetVDAC_Reg$S",  # 52
    "_GetVD_Cap$S",  # 53
    "HVon$v",  # 54
    "HVoff$v",  # 55
    "ResetOn$v",  # 56
    "ResetOff$v",  # 57
    "GetStatus$C",  # 58
    "SetRocAddress$vC",  # 59
    "Pg_SetCmd$vSS",  # 60
    "Pg_SetCmdAll$v1S",  # 61
    "Pg_SetSum$vS",  # 62
    "Pg_Stop$v",  # 63
    "Pg_Single$v",  # 64
    "Pg_Trigger$v",  # 65
    "Pg_Triggers$vIS",  # 66
    "Pg_Loop$vS",  # 67
    "Trigger_Select$vS",  # 68
    "Trigger_Delay$vC",  # 69
    "Trigger_Timeout$vS",  # 70
    "Trigger_SetGenPeriodic$vI",  # 71
    "Trigger_SetGenRandom$vI",  # 72
    "Trigger_Send$vC",  # 73
    "Daq_Open$IIC",  # 74
    "Daq_Close$vC",  # 75
    "Daq_Start$vC",  # 76
    "Daq_Stop$vC",  # 77
    "Daq_MemReset$vC",  # 78
    "Daq_GetSize$IC",  # 79
    "Daq_FillLevel$CC",  # 80
    "Daq_FillLevel$C",  # 81
    "Daq_Read$C5SIC",  # 82
    "Daq_Read$C5SI0IC",  # 83
    "Daq_Select_ADC$vSCCC",  # 84
    "Daq_Select_Deser160$vC",  # 85
    "Daq_Select_Deser400$v",  # 86
    "Daq_Deser400_Reset$vC",  # 87
    "Daq_Deser400_OldFormat$vb",  # 88
    "Daq_Select_Datagenerator$vS",  # 89
    "Daq_DeselectAll$v",  # 90
    "Deser400_Enable$vC",  # 91
    "Deser400_Disable$vC",  # 92
    "Deser400_DisableAll$v",  # 93
    "Deser400_SetPhase$vCC",  # 94
    "Deser400_SetPhaseAuto$vC",  # 95
    "Deser400_SetPhaseAutoAll$v",  # 96
    "Deser400_GetXor$CC",  # 97
    "Deser400_GetPhase$CC",  # 98
    "Deser400_GateRun$vCC",  # 99
    "Deser400_GateSingle$vC",  # 100
    "Deser400_GateStop$v",  # 101
    "roc_I2cAddr$vC",  # 102
    "roc_I2cAddr_Layer_1$vC",  # 103
    "roc_ClrCal$v",  # 104
    "roc_SetDAC$vCC",  # 105
    "roc_Pix$vCCC",  # 106
    "roc_Pix_Trim$vCCC",  # 107
    "roc_Pix_Mask$vCC",  # 108
    "roc_Pix_Cal$vCCb",  # 109
    "roc_Col_Enable$vCb",  # 110
    "roc_AllCol_Enable$vb",  # 111
    "roc_Col_Mask$vC",  # 112
    "roc_Chip_Mask$v",  # 113
    "TBM_Present$b",  # 114
    "tbm_Enable$vb",  # 115
    "tbm_Addr$vCC",  # 116
    "mod_Addr$vC",  # 117
    "mod_Addr$vCC",  # 118
    "tbm_Set$vCC",  # 119
    "tbm_SelectRDA$vC",  # 120
    "tbm_Get$bC0C",  # 121
    "tbm_GetRaw$bC0I",  # 122
    "TrimChip$s1s",  # 123
    "TestColPixel$bCCb2C",  # 124
    "Ethernet_Send$v3c",  # 125
    "Ethernet_RecvPackets$I",  # 126
    "LoopInterruptReset$v",  # 127
    "SetLoopTriggerDelay$vS",  # 128
    "SetLoopTrimDelay$vS",  # 129
    "SetI2CAddresses$b1C",  # 130
    "SetTrimValues$bC1C",  # 131
    "LoopMultiRocAllPixelsCalibrate$b1CSS",  # 132
    "LoopMultiRocOnePixelCalibrate$b1CCCSS",  # 133
    "LoopSingleRocAllPixelsCalibrate$bCSS",  # 134
    "LoopSingleRocOnePixelCalibrate$bCCCSS",  # 135
    "LoopMultiRocAllPixelsDacScan$b1CSSCCC",  # 136
    "LoopMultiRocAllPixelsDacScan$b1CSSCCCC",  # 137
    "LoopMultiRocOnePixelDacScan$b1CCCSSCCC",  # 138
    "LoopMultiRocOnePixelDacScan$b1CCCSSCCCC",  # 139
    "LoopSingleRocAllPixelsDacScan$bCSSCCC",  # 140
    "LoopSingleRocAllPixelsDacScan$bCSSCCCC",  # 141
    "LoopSingleRocOnePixelDacScan$bCCCSSCCC",  # 142
    "LoopSingleRocOnePixelDacScan$bCCCSSCCCC",  # 143
    "LoopMultiRocAllPixelsDacDacScan$b1CSSCCCCCC",  # 144
    "LoopMultiRocAllPixelsDacDacScan$b1CSSCCCCCCCC",  # 145
    "LoopMultiRocOnePixelDacDacScan$b1CCCSSCCCCCC",  # 146
    "LoopMultiRocOnePixelDacDacScan$b1CCCSSCCCCCCCC",  # 147
    "LoopSingleRocAllPixelsDacDacScan$bCSSCCCCCC",  # 148
    "LoopSingleRocAllPixelsDacDacScan$bCSSCCCCCCCC",  # 149
    "LoopSingleRocOnePixelDacDacScan$bCCCSSCCCCCC",  # 150
    "LoopSingleRocOnePixelDacDacScan$bCCCSSCCCCCCCC",  # 151
    "VectorTest$v1S2S",  # 152
    "GetADC$SC",  # 153
)

#: ``table_hash(NAMES)``, the value public logs print for this firmware.
TABLE_HASH = 486171790

#: ``GetRpcVersion`` reply of every DTB firmware with this protocol.
RPC_VERSION = 0x0200


def name_hash(name_sig: str) -> int:
    """Hash of one ``Name$sig`` string, as the firmware computes it.

    h starts at 31; for every character c, h = (h * 54059) XOR (c * 76963) with 32-bit unsigned
    wrap-around; the result is h mod 86969.
    """
    h = 31
    for c in name_sig.encode("ascii"):
        h = ((h * 54059) ^ (c * 76963)) & 0xFFFFFFFF
    return h % 86969


def table_hash(names: Sequence[str]) -> int:
    """Interface hash of a whole table: sum of (index + 1) * name_hash(name), mod 2**32."""
    return sum((i + 1) * name_hash(n) for i, n in enumerate(names)) & 0xFFFFFFFF
