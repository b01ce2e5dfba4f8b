"""`osci test PATH...`: run a folder of drop-in tests (any executable file is a test)."""

from __future__ import annotations

import importlib.util
import os
import signal
import sys
import types
from typing import Any

import click


def _light_executor_package() -> None:
    """Let `osci test` import `osci.executor.droptest*` without running `osci/executor/__init__.py` yet.

    That file imports the whole build executor (result parsers, subunit, testtools...),
    about 0.3 s of start-up that `osci test` never uses: 0.6 ms per test over a run of
    500. The package is registered with its real path and spec, and its __init__ runs
    on the first access to one of its attributes (PEP 562), so any other code in this
    process that does `from osci.executor import run_build` still works.
    Remove this once the package's __init__ imports lazily itself.
    """
    if "osci.executor" in sys.modules:
        return
    spec = importlib.util.find_spec("osci.executor")
    if spec is None or spec.loader is None or not spec.submodule_search_locations:
        return
    package = types.ModuleType("osci.executor")
    package.__path__ = list(spec.submodule_search_locations)
    package.__spec__ = spec
    package.__file__ = spec.origin
    package.__package__ = "osci.executor"
    loading = []

    def load_init(name: str) -> object:
        if loading:  # the __init__ itself asks for something it has not defined yet
            raise AttributeError(f"module 'osci.executor' has no attribute {name!r}")
        loading.append(True)
        del package.__getattr__  # type: ignore[attr-defined]
        spec.loader.exec_module(package)  # type: ignore[union-attr]
        return getattr(package, name)

    package.__getattr__ = load_init  # type: ignore[attr-defined]
    sys.modules["osci.executor"] = package
    import osci

    osci.executor = package  # type: ignore[attr-defined]


_light_executor_package()

from osci.executor.droptest_report import (  # noqa: E402
    PlainReporter,
    RichReporter,
    write_json,
    write_junit_report,
)
from osci.executor.droptests import (  # noqa: E402
    DEFAULT_TIMEOUT,
    DiscoveryError,
    DropTestOptions,
    HeaderError,
    VariantsError,
    discover,
    load_variants,
    parse_duration,
    run_droptests,
)


def _names(values: tuple[str, ...]) -> frozenset[str]:
    """`--tags a,b --tags c` -> {a, b, c}."""
    return frozenset(name.strip() for value in values for name in value.split(",") if name.strip())


def _duration(ctx: click.Context, param: click.Parameter, value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return parse_duration(value, where="--timeout")
    except HeaderError as exc:
        raise click.BadParameter(str(exc).removeprefix("--timeout: ")) from None


@click.command("test")
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@click.option(
    "-j",
    "--jobs",
    type=click.IntRange(min=0),
    default=1,
    show_default=True,
    help="Tests run at once (0: one per CPU).",
)
@click.option(
    "--timeout",
    callback=_duration,
    metavar="SECONDS",
    help=f"Timeout of tests whose header sets none (default {DEFAULT_TIMEOUT:g}s; 90, 90s, 5m, 1h).",
)
@click.option("--tags", multiple=True, metavar="T[,T...]", help="Run only tests with any of these tags.")
@click.option(
    "--provides",
    multiple=True,
    metavar="CAP[,CAP...]",
    help="Capabilities this machine has (for `requires=`).",
)
@click.option(
    "--repeat", type=click.IntRange(min=1), default=1, help="Run each test N times; flags flaky tests."
)
@click.option(
    "--variants",
    "variants_file",
    metavar="FILE",
    help="YAML: a matrix {P: [a, b]} or a list of {P: a} combinations.",
)
@click.option("--junit", "junit_file", metavar="FILE", help="Write a JUnit XML report.")
@click.option("--json", "json_file", metavar="FILE", help="Write a JSON report.")
def test_command(
    paths: tuple[str, ...],
    jobs: int,
    timeout: float | None,
    tags: tuple[str, ...],
    provides: tuple[str, ...],
    repeat: int,
    variants_file: str | None,
    junit_file: str | None,
    json_file: str | None,
) -> None:
    """Run drop-in tests: every executable file under PATH (a folder or a file) is a test.

    Exit status 0 passes, 77 skips, anything else fails. A comment near the top
    configures a test:  # osci: tags=fast,net requires=root,kvm timeout=30

    osci exits 0 if no test failed, 1 if one did (a flaky test counts as failed),
    and 2 for a usage error.
    """

    variants = None
    if variants_file is not None:
        try:
            variants = load_variants(variants_file)
        except VariantsError as exc:
            raise click.BadParameter(str(exc), param_hint="'--variants'") from None
    try:
        tests = discover(paths)
    except DiscoveryError as exc:
        raise click.UsageError(str(exc)) from None
    options = DropTestOptions(
        jobs=jobs or os.cpu_count() or 1,
        timeout=timeout or DEFAULT_TIMEOUT,
        tags=_names(tags),
        provides=_names(provides),
        repeat=repeat,
        variants=variants,
    )
    if not tests:
        click.echo(f"osci test: no executable files under {', '.join(paths)}", err=True)

    # A file name that is not valid UTF-8 is shown escaped, not a crash.
    sys.stdout.reconfigure(errors="backslashreplace")  # type: ignore[union-attr]
    reporter = _reporter(repeat)
    previous = _catch_sigterm()  # a cancelled CI job: kill the tests, then leave
    try:
        results, summary = run_droptests(tests, options, reporter)
    except KeyboardInterrupt as exc:
        if isinstance(reporter, RichReporter):
            reporter.close()
        click.echo("osci test: interrupted; the running tests were killed", err=True)
        sys.exit(128 + getattr(exc, "signum", signal.SIGINT))
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    for path, write in ((junit_file, write_junit_report), (json_file, write_json)):
        if not path:
            continue
        try:
            write(path, results, summary)
        except OSError as exc:
            reporter.finish(results, summary)
            click.echo(f"osci test: cannot write the report {path}: {exc.strerror or exc}", err=True)
            sys.exit(2)
    reporter.finish(results, summary)
    sys.exit(0 if summary.ok else 1)


class Interrupted(KeyboardInterrupt):
    def __init__(self, signum: int = signal.SIGINT) -> None:
        super().__init__(signum)
        self.signum = signum


def _interrupt(signum: int, frame: object) -> None:
    raise Interrupted(signum)


def _catch_sigterm() -> Any:
    """Turn SIGTERM into `Interrupted`; the handler it replaces, or None off the main thread."""
    try:
        return signal.signal(signal.SIGTERM, _interrupt)
    except ValueError:  # not the main thread (osci test called in-process): leave signals alone
        return None


def _reporter(repeat: int) -> PlainReporter | RichReporter:
    if sys.stdout.isatty() and os.environ.get("TERM") != "dumb":
        return RichReporter(repeat)
    return PlainReporter(sys.stdout, repeat)
