"""The closed-loop harness tells an app its policy only when the app has a policy setting."""

from pathlib import Path

import pytest

pytest.importorskip("asn1tools", reason="the built-in apps need the E2SM codecs")

from ranml.errors import RanmlError
from ranml.evaluation.closed_loop import _policy_setting

EXAMPLE = str(Path(__file__).resolve().parents[2] / "examples" / "my_xapp.py") + ":app"


def test_an_app_with_a_policy_setting_gets_each_policy():
    assert _policy_setting("energy-saving", "reactive") == {"policy": "reactive"}
    assert _policy_setting("traffic-steering", "none") == {"policy": "none"}


def test_an_app_without_one_runs_as_it_is_and_only_as_the_baseline():
    assert _policy_setting(EXAMPLE, "none") == {}
    with pytest.raises(RanmlError, match="no 'policy' setting.*--policy none"):
        _policy_setting(EXAMPLE, "forecast")
