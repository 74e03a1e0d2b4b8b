"""sqlmig as users install it: the wheel holds every module, and the installed entry
points (console script, ``python -m sqlmig``, shell completion) all start.

In CI (.ci/run) the suite runs against the wheel installed in a fresh virtual
environment, named by SQLMIG_TEST_INSTALLED; locally, against `make install`'s editable
install. Either way these tests run the ``sqlmig`` next to the Python running them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO

BIN = Path(sys.executable).parent
SQLMIG = BIN / "sqlmig"


def source_modules() -> set[str]:
    """Every module of the source tree, as a path inside the package: sqlmig/x/y.py."""
    return {p.relative_to(REPO).as_posix() for p in (REPO / "sqlmig").rglob("*.py")}


def run(
    *args: str, env: dict[str, str] | None = None, **kw: object
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, **(env or {})},
        **kw,  # type: ignore[arg-type]
    )


def _tracked_copy(dest: Path) -> None:
    """The files a clean clone has: a stale build/ or egg-info must not hide a gap."""
    listed = run(
        "git", "-C", str(REPO), "ls-files", "-z", "--cached", "--others", "--exclude-standard"
    )
    if listed.returncode != 0:  # not a git checkout (an unpacked sdist): copy the tree
        shutil.copytree(REPO, dest, ignore=shutil.ignore_patterns(".*", "build", "*.egg-info"))
        return
    for name in filter(None, listed.stdout.split("\0")):
        if (REPO / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, dest / name)


def test_the_wheel_holds_every_module_of_the_source_tree(tmp_path):
    src = tmp_path / "src"
    _tracked_copy(src)
    built = run(
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--no-deps",
        "--no-build-isolation",
        "-q",
        "-w",
        str(tmp_path / "dist"),
        str(src),
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = (tmp_path / "dist").glob("sqlmig-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = sorted(source_modules() - names)
    assert not missing, f"the wheel lacks {missing}"
    assert "sqlmig/py.typed" in names  # type hints reach users of the library
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    declared = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "sqlmig = sqlmig.cli:main" in declared
    # The pytest plugin: pytest finds it by this group, in the installed distribution.
    assert "[pytest11]\nsqlmig = sqlmig.pytest_plugin" in declared


@pytest.mark.skipif(
    not os.environ.get("SQLMIG_TEST_INSTALLED"),
    reason="set by .ci/run, which runs the suite against the installed wheel",
)
def test_the_suite_tests_the_installed_package_not_the_source_tree():
    import sqlmig

    venv = Path(os.environ["SQLMIG_TEST_INSTALLED"]).resolve()
    site = Path(sysconfig.get_paths()["purelib"]).resolve()
    package = Path(sqlmig.__file__).resolve().parent
    assert site.is_relative_to(venv), f"tests run by {sys.executable}, not in {venv}"
    assert package == site / "sqlmig", f"sqlmig imported from {package}, not from {site}"
    assert not package.is_relative_to(REPO.resolve())
    installed = {p.relative_to(site).as_posix() for p in package.rglob("*.py")}
    assert installed == source_modules()
    imported = [m.__file__ for name, m in sys.modules.items() if name.startswith("sqlmig")]
    assert all(Path(f).resolve().is_relative_to(site) for f in imported if f)


def test_console_script_and_module_start(tmp_path):
    from sqlmig import __version__
    from tests.test_docs import commands

    for argv in ([str(SQLMIG)], [sys.executable, "-m", "sqlmig"]):
        version = run(*argv, "--version", cwd=tmp_path)
        assert version.returncode == 0 and version.stdout == f"sqlmig {__version__}\n", version
        top = run(*argv, "--help", cwd=tmp_path)
        assert top.returncode == 0 and "apply" in top.stdout, top.stderr
    for name in commands():
        helped = run(str(SQLMIG), name, "--help", cwd=tmp_path)
        assert helped.returncode == 0 and "Usage: sqlmig " + name in helped.stdout, (name, helped)


# Without a value the completion options detect the shell sqlmig runs in; typer reads this
# variable to take the shell as the option's value instead, which lets one test ask for all.
EXPLICIT_SHELL = {"_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"}


@pytest.mark.parametrize(
    ("shell", "marker"),
    [
        ("bash", "complete -o default -F _sqlmig_completion sqlmig"),
        ("zsh", "#compdef sqlmig"),
        ("fish", "complete --command sqlmig"),
    ],
)
def test_completion_script_for_each_shell(shell, marker, tmp_path):
    shown = run(str(SQLMIG), "--show-completion", shell, env=EXPLICIT_SHELL, cwd=tmp_path)
    assert shown.returncode == 0 and marker in shown.stdout, shown
    home = tmp_path / "home"
    home.mkdir()
    installed = run(
        str(SQLMIG),
        "--install-completion",
        shell,
        env={**EXPLICIT_SHELL, "HOME": str(home)},
        cwd=tmp_path,
    )
    assert installed.returncode == 0 and f"{shell} completion installed" in installed.stdout
    written = [p for p in home.rglob("*") if p.is_file() and "sqlmig" in p.read_text()]
    assert written, f"nothing written under {home} for {shell}"


def test_bash_completion_completes_a_command_name(tmp_path):
    # The shell detected from the parent process: what a user typing it in bash gets.
    script = run("bash", "-c", f"{SQLMIG} --show-completion", cwd=tmp_path)
    assert script.returncode == 0 and "_sqlmig_completion" in script.stdout, script
    (tmp_path / "completion.sh").write_text(script.stdout)
    probe = (
        "source completion.sh\n"
        "COMP_WORDS=(sqlmig rol); COMP_CWORD=1; _sqlmig_completion sqlmig\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
        "COMP_WORDS=(sqlmig apply --dry); COMP_CWORD=2; _sqlmig_completion sqlmig\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    done = run("bash", "-c", probe, cwd=tmp_path, env={"PATH": f"{BIN}:{os.environ['PATH']}"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["rollback", "--dry-run"], done.stdout
