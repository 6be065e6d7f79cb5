"""The one thing pyproject.toml cannot say without an experimental table: the C extension.

``spotworker._speedups`` scans the example task's common batch in C (chosen by
measurement: worker/README.md, "Choosing the parser"). It is optional: without a C
compiler or Python's headers the package installs without it (setuptools warns) and
the task takes msgspec's path, with the same results.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "spotworker._speedups",
            sources=["src/spotworker/_speedups.c"],
            optional=True,
        )
    ]
)
