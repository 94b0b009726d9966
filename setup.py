"""Build hook for the one compiled module; everything else is declared in pyproject.toml.

``ranml.serving._native`` (C, numpy C API) runs a one-row forecast in one native call and builds
sessions on a native thread that never takes the GIL. It is optional: where it cannot be compiled
(no C compiler), the runtime uses its numpy and ctypes paths, which give the same results more
slowly. ``.ci/run`` checks that it was built.
"""

import sys

import numpy
from setuptools import Extension, setup

unix = sys.platform != "win32"
setup(
    ext_modules=[
        Extension(
            "ranml.serving._native",
            ["src/ranml/serving/_native.c"],
            include_dirs=[numpy.get_include()],
            # Built against numpy 2 headers, loadable with any numpy the package accepts (>= 1.26).
            define_macros=[("NPY_TARGET_VERSION", "NPY_1_25_API_VERSION")],
            # Separate rounding of products and sums: results identical to the numpy path.
            extra_compile_args=["-O3", "-ffp-contract=off"] if unix else ["/O2", "/fp:precise"],
            optional=True,
        )
    ]
)
