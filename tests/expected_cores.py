"""The cores targets/cores/ ships, as the tests expect them: Cortex-M in core-number order, then the host."""

CORTEX_M_CORES = [
    "cortex-m0",
    "cortex-m0plus",
    "cortex-m3",
    "cortex-m4",
    "cortex-m4f",
    "cortex-m7",
    "cortex-m33",
    "cortex-m55",
]
ALL_CORES = [*CORTEX_M_CORES, "host"]
