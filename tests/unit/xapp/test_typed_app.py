"""The typed app API: settings that refuse unknown keys, one lifespan yielding typed state, no duplicate handlers."""

import asyncio
from dataclasses import dataclass

import pytest

pytest.importorskip("asn1tools", reason="the E2SM codecs need asn1tools: pip install 'ranml[ric]'")

from pydantic import BaseModel

from ranml.config import AppSettings
from ranml.errors import ConfigError, RanmlError
from ranml.rapp import RApp, RAppRunner
from ranml.xapp import Context, LoadSettings, MemoryHub, RunnerSettings, XApp, XAppRunner
from ranml.xapp.apps.energy_saving import app as energy_saving


class Settings(AppSettings):
    threshold: float = 0.5


@dataclass
class State:
    seen: int = 0


def test_settings_refuse_a_misspelt_key_naming_it():
    with pytest.raises(ConfigError, match="treshold"):
        XApp("x", config=Settings).load_config({"treshold": 0.7})
    with pytest.raises(ConfigError, match="polcy"):
        energy_saving.load_config({"polcy": "reactive"})  # the built-in apps' LoadSettings too
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="extra_forbidden"):
        LoadSettings.model_validate({"high": 1})  # "high" is traffic steering's, not the base's


def test_an_app_without_settings_takes_none():
    assert XApp("plain").load_config(None) == AppSettings()
    with pytest.raises(ConfigError, match="window"):
        XApp("plain").load_config({"window": 3})


def test_settings_must_derive_from_app_settings():
    class Loose(BaseModel):
        x: int = 1

    with pytest.raises(ConfigError, match="AppSettings subclass"):
        XApp("x", config=Loose)  # type: ignore[type-var]
    with pytest.raises(ConfigError, match="AppSettings subclass"):
        RApp("x", config=Loose)  # type: ignore[type-var]


def test_a_second_lifespan_or_report_handler_is_refused():
    app = XApp[Settings, State]("x", config=Settings)

    @app.lifespan
    async def one(ctx):
        yield State()

    with pytest.raises(ConfigError, match="a lifespan is already registered \\(one\\)"):
        @app.lifespan
        async def two(ctx):
            yield State()

    @app.on_report
    async def report(ctx, r):
        pass

    with pytest.raises(ConfigError, match="report handler is already registered"):
        app.on_report(report)
    with pytest.raises(ConfigError, match="default handler"):
        app.on_default(report)
        app.on_default(report)
    rapp = RApp("r")
    rapp.on_telemetry(report)
    with pytest.raises(ConfigError, match="telemetry handler"):
        rapp.on_telemetry(report)
    timer = rapp.every(5)(report)
    with pytest.raises(ConfigError, match="timer report is already registered"):
        rapp.every(10)(timer)


def test_handlers_get_the_state_the_lifespan_yielded():
    app = XApp[Settings, State]("typed", config=Settings)
    got = []

    @app.lifespan
    async def lifespan(ctx: Context[Settings, None]):
        with pytest.raises(RanmlError, match="once the lifespan has yielded"):
            ctx.app_state  # noqa: B018 - reading it is the test
        state = State()
        yield state
        got.append(("shutdown", state.seen))

    @app.on(30000)
    async def custom(ctx: Context[Settings, State], msg):
        ctx.app_state.seen += 1
        got.append((ctx.config.threshold, ctx.app_state.seen))

    async def main():
        hub = MemoryHub()
        runner = XAppRunner(app, hub.endpoint("xapp"), RunnerSettings(http_port=None, state="memory"),
                            {"threshold": 0.9})
        ctx = await runner.start()
        assert isinstance(ctx.app_state, State)
        from ranml.protocols.rmr import RmrMessage

        sender = hub.endpoint("peer")
        await sender.start()
        for _ in range(2):
            await sender.send_to("xapp", RmrMessage(30000, b""))
        for _ in range(100):
            if len(got) == 2:
                break
            await asyncio.sleep(0.01)
        await runner.stop()

    asyncio.run(main())
    assert got == [(0.9, 1), (0.9, 2), ("shutdown", 2)]


def test_rapp_state_comes_from_its_lifespan():
    app = RApp[AppSettings, State]("r")

    @app.lifespan
    async def lifespan(ctx):
        yield State(seen=7)

    async def main():
        runner = RAppRunner(app, http_port=None)
        ctx = await runner.start()
        value = ctx.app_state.seen
        await runner.stop()
        return value

    assert asyncio.run(main()) == 7
