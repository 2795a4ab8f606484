"""Execute notebooks/LightOS_Go_QuickStart.ipynb with nbclient against the
installed LightOS kernelspec, exactly as Jupyter would, and check the outputs
that show the engine at work."""

from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


def test_quickstart_executes_cleanly():
    path = NOTEBOOKS / "LightOS_Go_QuickStart.ipynb"
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb, kernel_name="lightos", timeout=300, resources={"metadata": {"path": str(NOTEBOOKS)}}
    )
    client.execute()  # raises CellExecutionError on any error output

    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    html = "\n".join(o.get("data", {}).get("text/html", "") for o in outputs)
    text = "\n".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "FusedMatMul" in html, "the optimized graph shows a fused node"
    assert "Optimizer report" in html
    assert "batch 4 -> [4 4]" in text, "the ONNX model ran with a dynamic batch"
    assert "Governor metrics (predictive)" in html
    pngs = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(pngs) >= 2, "the live telemetry charts were drawn"
