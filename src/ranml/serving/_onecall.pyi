"""Type stub of the compiled one-row call (``_onecall.c``)."""

import numpy as np

NONFINITE_INPUT: int
NONFINITE_OUTPUT: int
NOT_FAST: int

class OneRowCall:
    def __init__(self, api: int, session: int, input_name: bytes, input_value: int, output_name: bytes,
                 output_value: int, x: np.ndarray, y: np.ndarray, owner: object) -> None: ...
    def run(self, window: np.ndarray, maps: np.ndarray, /) -> np.ndarray | int: ...
