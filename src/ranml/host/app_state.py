"""What the xApp and rApp definitions share: the state their lifespan yields, settings and registration rules."""

from __future__ import annotations

from typing import Any, Generic, Protocol

from typing_extensions import TypeVar

from ranml.config import AppSettings
from ranml.errors import ConfigError, RanmlError

__all__ = ["AppInfo", "ConfigT", "HoldsAppState", "StateT", "check_app_settings", "register_once"]

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


class AppInfo(Protocol):
    """What a handler may read of its app through the context."""

    @property
    def name(self) -> str:
        """The app's name."""

    @property
    def version(self) -> str:
        """Its semantic version."""


def check_app_settings(app_name: str, config: object) -> None:
    """Refuse a settings model that is not an :class:`~ranml.config.AppSettings` (it would drop unknown keys).

    Raises
    ------
    ConfigError
        ``config`` is neither ``None`` nor an ``AppSettings`` subclass.
    """
    if config is not None and not (isinstance(config, type) and issubclass(config, AppSettings)):
        raise ConfigError(f"{app_name}: config must be a ranml.config.AppSettings subclass (unknown keys are "
                          f"refused), not {config!r}")


def register_once(app_name: str, what: str, current: object) -> None:
    """Refuse a second registration of what an app has one of (its lifespan, its report handler...).

    Raises
    ------
    ConfigError
        ``current`` is already set.
    """
    if current is not None:
        raise ConfigError(f"{app_name}: {what} is already registered ({getattr(current, '__name__', current)}); "
                          f"an app has one, do both in it")
