import ranml
from ranml import errors


def test_one_root_and_exit_codes():
    classes = [getattr(errors, n) for n in dir(errors) if n.endswith("Error")]
    for cls in classes:
        assert issubclass(cls, errors.RanmlError)
        assert issubclass(cls, Exception) and isinstance(cls.exit_code, int)
    assert errors.UnknownModelError.exit_code == errors.ModelError.exit_code
    assert ranml.RanmlError is errors.RanmlError


def test_public_surface_is_pinned():
    assert ranml.__all__ == ["RanmlError", "__version__"]
    # every package door's __all__ is pinned by tests/unit/test_layers.py (tests/data/package-doors.json)
