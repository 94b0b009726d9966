"""xApp SDK: apps as short modules over RMR, E2 subscriptions, state, features and embedded models.

The door holds what an app module and the tools around it use: the app object and its typed
context, the reports it gets, A1 policy requests, the load model the built-in apps build on, the
forecasters, the transports and state stores, the runner, descriptors and app loading.
"""

from ranml.xapp.a1 import PolicyRequest, instances_after
from ranml.xapp.app import CellReport, KpmRequest, XApp
from ranml.xapp.cell_load import MEASUREMENTS, CellView, LoadModel, LoadSettings, load_model, neighbours, observe
from ranml.xapp.context import AppInfo, Context, NodeInfo
from ranml.xapp.descriptor import build_descriptor, descriptor_name, validate_descriptor
from ranml.xapp.features import FeatureStore
from ranml.xapp.forecast import Forecaster, HoltForecaster, RegistryForecaster
from ranml.xapp.loader import load_app
from ranml.xapp.logs import setup_mdc_logging
from ranml.xapp.osc_transport import OscRmrTransport, librmr_available
from ranml.xapp.rmr_setup import open_transport
from ranml.xapp.runner import RunnerSettings, XAppRunner
from ranml.xapp.state import MemoryStateStore, RedisStateStore, open_state_store
from ranml.xapp.transport import MemoryHub, MemoryTransport, RmrTransport, SendError, Transport

__all__ = [
    "MEASUREMENTS",
    "AppInfo",
    "CellReport",
    "CellView",
    "Context",
    "FeatureStore",
    "Forecaster",
    "HoltForecaster",
    "KpmRequest",
    "LoadModel",
    "LoadSettings",
    "MemoryHub",
    "MemoryStateStore",
    "MemoryTransport",
    "NodeInfo",
    "OscRmrTransport",
    "PolicyRequest",
    "RedisStateStore",
    "RegistryForecaster",
    "RmrTransport",
    "RunnerSettings",
    "SendError",
    "Transport",
    "XApp",
    "XAppRunner",
    "build_descriptor",
    "descriptor_name",
    "instances_after",
    "librmr_available",
    "load_app",
    "load_model",
    "neighbours",
    "observe",
    "open_state_store",
    "open_transport",
    "setup_mdc_logging",
    "validate_descriptor",
]
