"""write_report writes PNGs, results.json and one self-contained report.html."""

import json

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from kpflow_sk.plotting import to_jsonable, write_report  # noqa: E402


def _fig(label):
    fig = Figure(figsize=(2, 1.5))
    fig.subplots().plot([0, 1], [1, 0], label=label)
    return fig


def test_report_files_html_and_json(tmp_path):
    folder = tmp_path / "out" / "report"
    results = {"score": np.float64(0.5), "n_iter": np.int64(7), "nan": float("nan"),
               "inf": np.inf, "matrix": np.eye(2), "flag": np.bool_(True),
               "params": {"hidden_size": 8, "cell": "gru"}, "names": ("a", "b")}
    tables = {
        "Task alignment": {"data": np.array([[1.0, -0.25], [-0.25, 1.0]]),
                           "index": ["go", "anti"], "columns": ["go", "anti"]},
        "Ranks": [{"operator": "K", "rank": 3.5}, {"operator": "P", "rank": 2.0,
                                                   "axis": "time"}],
    }
    path = write_report(folder, title="Fit <demo>",
                        figures={"loss curve": (_fig("a"), "The loss & ranks"),
                                 "spectra": _fig("b")},
                        results=results, tables=tables)
    assert path == folder / "report.html" and path.is_file()
    assert sorted(p.name for p in folder.iterdir()) == [
        "loss_curve.png", "report.html", "results.json", "spectra.png"]
    assert (folder / "spectra.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    page = path.read_text(encoding="utf-8")
    assert page.count('src="data:image/png;base64,') == 2
    assert 'src="http' not in page and "<script" not in page and "<link" not in page
    assert "<title>Fit &lt;demo&gt;</title>" in page
    assert "The loss &amp; ranks" in page and "<figcaption>spectra</figcaption>" in page
    assert "<h3>Task alignment</h3>" in page and "<h3>Ranks</h3>" in page
    assert '<th class="row">anti</th><td>-0.25</td><td>1</td>' in page
    assert "<th>operator</th><th>rank</th><th>axis</th>" in page
    assert "params.hidden_size" in page and "array of shape (2, 2)" in page

    with open(folder / "results.json", encoding="utf-8") as fh:
        back = json.load(fh)
    assert back == {"score": 0.5, "n_iter": 7, "nan": None, "inf": None,
                    "matrix": [[1.0, 0.0], [0.0, 1.0]], "flag": True,
                    "params": {"hidden_size": 8, "cell": "gru"}, "names": ["a", "b"]}


def test_report_sequence_figures_dataframe_and_plain_matrix(tmp_path):
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"x": [1.0, 2.0], "y": ["u", "v"]})
    path = write_report(tmp_path, title="t", figures=[("one", _fig("a"), "first")],
                        results={}, tables={"df": df, "plain": np.arange(4).reshape(2, 2)})
    page = path.read_text(encoding="utf-8")
    assert page.count("data:image/png;base64,") == 1 and "No results recorded." in page
    assert "<th>x</th><th>y</th>" in page and "<td>v</td>" in page
    assert "<th>0</th><th>1</th>" in page and "<td>3</td>" in page
    assert json.loads((tmp_path / "results.json").read_text()) == {}


def test_report_bad_input(tmp_path):
    with pytest.raises(ValueError, match="collide"):
        write_report(tmp_path, title="t", figures={"a b": _fig("x"), "a_b": _fig("y")},
                     results={})
    with pytest.raises(ValueError, match="not a Figure"):
        write_report(tmp_path, title="t", figures={"a": np.zeros(3)}, results={})
    with pytest.raises(ValueError, match="3 index labels for 2 rows"):
        write_report(tmp_path, title="t", figures={}, results={},
                     tables={"m": {"data": np.eye(2), "index": ["a", "b", "c"]}})
    with pytest.raises(TypeError, match=r"results\['params'\]\['cell'\] is a type"):
        write_report(tmp_path, title="t", figures={}, results={"params": {"cell": int}})
    assert not (tmp_path / "report.html").exists()


def test_to_jsonable_torch_and_nested():
    torch = pytest.importorskip("torch")
    out = to_jsonable({"t": torch.tensor([1.0, float("nan")]), 3: {np.int32(1): [np.nan]}})
    assert out == {"t": [1.0, None], "3": {"1": [None]}}
    json.dumps(out, allow_nan=False)
