"""The typed state an app's lifespan yields, as its context holds it (xApp and rApp contexts alike)."""

from __future__ import annotations

from typing import Any, Generic

from typing_extensions import TypeVar

from ranml.config import AppSettings
from ranml.errors import RanmlError

__all__ = ["ConfigT", "HoldsAppState", "StateT"]

ConfigT = TypeVar("ConfigT", bound=AppSettings, default=AppSettings)
StateT = TypeVar("StateT", default=None)
_NOT_YET: Any = object()


class HoldsAppState(Generic[StateT]):
    """``app_state``: what the lifespan yielded (``None`` without a lifespan), set by the runner."""

    _app_state: Any = _NOT_YET

    @property
    def app_state(self) -> StateT:
        """What the lifespan yielded; reading it before (in the lifespan, before its ``yield``) is an error."""
        if self._app_state is _NOT_YET:
            name = getattr(getattr(self, "app", None), "name", "the app")
            raise RanmlError(f"{name}: app_state is set once the lifespan has yielded it")
        state: StateT = self._app_state
        return state

    def set_app_state(self, value: StateT) -> None:
        """Set by the runner with what the lifespan yielded."""
        self._app_state = value
