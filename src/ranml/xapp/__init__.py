"""xApp SDK: apps as short modules over RMR, E2 subscriptions, state, features and embedded models."""

from ranml.xapp.app import CellReport, KpmRequest, XApp
from ranml.xapp.context import Context, NodeInfo
from ranml.xapp.runner import RunnerSettings, XAppRunner

__all__ = ["CellReport", "Context", "KpmRequest", "NodeInfo", "RunnerSettings", "XApp", "XAppRunner"]
