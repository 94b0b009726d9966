"""LSTM forecaster."""

from ranml.benchmark.models._rnn import RecurrentForecaster

__all__ = ["LSTM"]


class LSTM(RecurrentForecaster):
    """Stacked LSTM over the input window; the last hidden state maps to the horizon."""

    name = "lstm"
    cell = "lstm"
