"""One libFuzzer target in its own process (libFuzzer owns the process and exits when done):
``python -m bench._fuzz_worker NAME [--deadline S] [libFuzzer flags]``, started by
``python -m bench.fuzz --engine atheris``.

ssrauth is imported under atheris's instrumentation, and only ssrauth: its branches guide the
mutations, and instrumenting the frameworks and hypothesis too would cost minutes at start.
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports(include=["ssrauth"]):
    import ssrauth
    import ssrauth.cli
    import ssrauth.django
    import ssrauth.flask
    import ssrauth.starlette
    import ssrauth.wsgi  # noqa: F401

from bench.fuzz import WEIGHTS, target, timed_by


def main(argv: list[str]) -> None:
    name, deadline, flags = argv[0], 1.0, []
    for arg in argv[1:]:
        if arg.startswith("--deadline="):
            deadline = float(arg.partition("=")[2])
        else:
            flags.append(arg)
    if name not in WEIGHTS:
        raise SystemExit(f"unknown target {name!r}")
    atheris.Setup([sys.argv[0], *flags], timed_by(deadline, target(name)))
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv[1:])
