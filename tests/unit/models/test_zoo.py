import pytest

from ranml.benchmark.models import ZOO, resolve_model
from ranml.errors import UnknownModelError


def test_unknown_model_lists_valid_names():
    with pytest.raises(UnknownModelError) as err:
        resolve_model("prophet")
    for name in ("lstm", "patchtst", "convlstm"):
        assert name in str(err.value)


def test_reference_must_be_a_forecast_model():
    with pytest.raises(UnknownModelError, match="not a ForecastModel"):
        resolve_model("ranml.errors:RanmlError")
    with pytest.raises(UnknownModelError, match="cannot import"):
        resolve_model("no_such_pkg.mod:Model")


def test_zoo_has_every_model_the_issue_names():
    assert set(ZOO) == {"persistence", "seasonal_naive", "dlinear", "nlinear", "mlp", "lstm", "gru",
                        "tcn", "patchtst", "transformer", "convlstm", "stn", "nhits", "xlstm", "mamba", "gbdt",
                        "autoformer", "informer", "histm", "timesnet", "predrnnpp"}


def test_importing_the_zoo_index_does_not_import_torch():
    import subprocess
    import sys

    code = "import sys, ranml.benchmark, ranml.benchmark.models; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
