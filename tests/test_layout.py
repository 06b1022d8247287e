"""The source tree is the package: a checkout imports from its root, and a regular
(non-editable) install ships ``reservoir.kernels`` / ``reservoir.datasets`` inside the
package, never as top-level ``kernels`` / ``datasets``."""

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHOW = (
    "import reservoir, reservoir.kernels.cpu, reservoir.datasets.synthetic; "
    "print(reservoir.__file__); print(reservoir.kernels.cpu.__file__); "
    "print(reservoir.datasets.synthetic.__file__)"
)


def _python(code, cwd, extra_path=None):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if extra_path is not None:
        env["PYTHONPATH"] = str(extra_path)
    done = subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return [Path(line) for line in done.stdout.split()]


def test_package_folders_link_to_the_top_level_folders():
    for name in ("kernels", "datasets"):
        link = ROOT / "reservoir" / name
        assert link.is_symlink(), f"reservoir/{name} should link to ../{name}"
        assert link.resolve() == (ROOT / name).resolve()


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    if shutil.which("git") is None and not (ROOT / ".git").exists():
        pytest.skip("not a checkout")
    pytest.importorskip("setuptools")
    checkout = tmp_path_factory.mktemp("checkout")
    ignore = shutil.ignore_patterns(
        ".git", ".venv*", "build", "*.egg-info", "__pycache__", "results", "forecast_out", "_build", "auto_examples"
    )
    shutil.copytree(ROOT, checkout / "src", symlinks=True, ignore=ignore)
    out = tmp_path_factory.mktemp("wheel")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
            str(checkout / "src"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0:
        pytest.fail(f"building the wheel failed:\n{done.stderr[-2000:]}")
    (path,) = out.glob("*.whl")
    return checkout / "src", path


def test_wheel_keeps_one_top_level_name(wheel):
    _, path = wheel
    names = zipfile.ZipFile(path).namelist()
    tops = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert tops == {"reservoir"}
    for required in (
        "reservoir/kernels/cpu/esn.py",
        "reservoir/kernels/cuda_src/esn.cu",
        "reservoir/datasets/synthetic.py",
    ):
        assert required in names
    # every package of the source tree (through the links) is shipped
    for folder, _, files in os.walk(ROOT / "reservoir", followlinks=True):
        if "__init__.py" not in files or "__pycache__" in folder:
            continue
        package = (Path(folder) / "__init__.py").relative_to(ROOT).as_posix()
        assert package in names, f"{package} is missing from the wheel (pyproject.toml packages)"


def test_fresh_checkout_root_imports_after_a_regular_install(wheel, tmp_path):
    checkout, path = wheel
    site = tmp_path / "site"
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), str(path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    # From the checkout root, the checkout's files are the ones imported.
    files = _python(SHOW, cwd=checkout, extra_path=site)
    assert all(str(f).startswith(str(checkout)) for f in files), files
    # From anywhere else, the installed copy is imported, with its kernels inside.
    files = _python(SHOW, cwd=tmp_path, extra_path=site)
    assert all(str(f).startswith(str(site / "reservoir")) for f in files), files


def test_no_file_holds_a_merge_conflict_marker():
    """A committed <<<<<<< / >>>>>>> line breaks the docs quietly (reStructuredText reads it as text)."""
    root = Path(__file__).resolve().parents[1]
    tracked = subprocess.run(["git", "ls-files"], cwd=root, capture_output=True, text=True, check=False).stdout.split()
    if not tracked:
        pytest.skip("not a git checkout")
    marked = []
    for name in tracked:
        path = root / name
        if path.suffix not in {".py", ".rst", ".md", ".toml", ".cu", ".cuh", ".txt", ".json"} or not path.is_file():
            continue
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            if line.startswith(("<<<<<<< ", ">>>>>>> ")):
                marked.append(f"{name}:{number}")
    assert not marked, marked
