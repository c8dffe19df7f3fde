"""The zoo ships inside the wheel: build it, install it into a fresh venv, load a model there.

About 20-30 s (a wheel build and a venv without pip). The fresh venv gets only the wheel
(``--no-deps``); its dependencies (torch, numpy, ...) come from this interpreter's
site-packages through PYTHONPATH, which does not process ``.pth`` files, so the editable install
of the source tree is not visible: the test checks ``kpflow_sk.__file__`` lies inside the venv.
"""

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

LOAD_SCRIPT = """
import json, pathlib, numpy as np, kpflow_sk
from kpflow_sk import zoo
est = zoo.load("gru_memory_pro")
X, y_pred = zoo.probe("gru_memory_pro")
snaps = zoo.load("gru_fourtask", checkpoints=True)
print(json.dumps({
    "file": kpflow_sk.__file__, "root": str(zoo.zoo_root()), "models": zoo.list(),
    "max_err": float(np.abs(est.predict(X) - y_pred).max()), "n_snapshots": len(snaps),
    "verified": sorted(zoo.verify()),
}))
"""


def _source_copy(dst):
    """The files git would ship (tracked + untracked, not ignored), symlinks kept."""
    out = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO,
                         capture_output=True, check=True).stdout.decode().split("\0")
    for rel in filter(None, out):
        src = REPO / rel
        if not os.path.lexists(src):
            continue
        target = dst / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if src.is_symlink():
            os.symlink(os.readlink(src), target)
        elif src.is_file():
            shutil.copy2(src, target)
    return dst


def test_zoo_loads_from_an_installed_wheel(tmp_path):
    if shutil.which("git") is None:
        pytest.skip("git is needed to list the source files")
    src = _source_copy(tmp_path / "src")
    wheelhouse = tmp_path / "wheelhouse"
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(src), "-w", str(wheelhouse),
                    "--no-deps", "--no-build-isolation", "-q"], check=True, cwd=tmp_path)
    (wheel,) = wheelhouse.glob("kpflow_sk-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "kpflow_sk/zoo/_artifacts/MANIFEST.sha256" in names
    assert "kpflow_sk/zoo/_artifacts/gru_fourtask/checkpoints.safetensors" in names
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    py = venv / "bin" / "python"
    purelib = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()"
                              "['purelib'])"], capture_output=True, text=True,
                             check=True).stdout.strip()
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target",
                    purelib, str(wheel)], check=True)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["PYTHONPATH"] = sysconfig.get_paths()["purelib"]  # torch & co., not the editable src
    res = subprocess.run([str(py), "-c", LOAD_SCRIPT], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    info = json.loads(res.stdout.strip().splitlines()[-1])
    assert Path(info["file"]).resolve().is_relative_to(venv.resolve())
    assert Path(info["root"]).resolve().is_relative_to(venv.resolve())
    assert "gru_memory_pro" in info["models"] and info["verified"] == info["models"]
    assert info["max_err"] < 1e-5
    assert info["n_snapshots"] >= 10
