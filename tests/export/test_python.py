"""The python export reads like hand-written PyTorch and stands alone."""
from __future__ import annotations

import ast
import subprocess
import sys
import textwrap

import pytest
import torch

import archspec
from archspec.export import export
from archspec.export.python import to_python
from archspec.export.verify import load_python, max_difference

from .conftest import ROOT, ZOO


@pytest.fixture(scope="module")
def resnet18_source() -> str:
    return to_python(archspec.check(ROOT / "specs/resnet18.yaml"))


def test_resnet18_reads_like_torchvision(resnet18_source):
    src = resnet18_source
    for line in [
        "class Basic(nn.Module):",
        "def __init__(self, in_channels, planes, stride=1, downsample=False):",
        "self.bn1 = nn.BatchNorm2d(planes)",
        "self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, padding=1, bias=False)",
        "out = self.bn2(out)",
        "identity = self.downsample(x)",
        "out = out + identity",
        "class Resnet18(nn.Module):",
        "self.conv1 = nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False)",
        "self.layer1 = nn.Sequential(Basic(64, 64), Basic(64, 64))",
        "self.layer2 = nn.Sequential(Basic(64, 128, stride=2, downsample=True), Basic(128, 128))",
        "x = self.layer4(x)",
        "def __init__(self, num_classes=1000):",
        "self.fc = nn.Linear(512, num_classes)",
    ]:
        assert line in src, line
    assert src.count("class ") == 2  # one class per block, one for the network
    assert "getattr(" not in src and "add_module" not in src and "_modules" not in src


def test_generated_code_is_tidy(resnet18_source):
    tree = ast.parse(resnet18_source)
    assert ast.get_docstring(tree).startswith("resnet18: ResNet-18")
    imports = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imports |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert imports == {"torch"}
    assert max(len(line) for line in resnet18_source.splitlines()) <= 100
    for cls in (n for n in tree.body if isinstance(n, ast.ClassDef)):
        assert ast.get_docstring(cls), cls.name


def test_block_calls_become_classes_with_their_params():
    src = to_python(archspec.check(ROOT / "specs/d2l/googlenet.yaml"))
    assert "def __init__(self, in_channels, c1, c2, c3, c4):" in src
    assert "self.p2_2 = nn.Conv2d(c2[0], c2[1], kernel_size=3, padding=1)" in src
    assert "Inception(192, 64, (96, 128), (16, 32), 32)" in src
    assert "return torch.cat([p1, p2, p3, p4], dim=1)" in src


def test_optional_entries_take_the_block_param_as_flag():
    src = to_python(archspec.check(ROOT / "specs/d2l/resnet18.yaml"))
    assert "if use_1x1conv:\n            self.conv3 = nn.Conv2d(in_channels, num_channels, kernel_size=1, stride=strides)" in src
    assert "if self.conv3 is not None:\n            identity = self.conv3(x)" in src
    src = to_python(archspec.check(ROOT / "specs/mobilenet_v2.yaml"))
    assert "if self.use_res:\n            out = out + x" in src


def test_numbers_are_named_after_params_and_inputs():
    src = to_python(archspec.check(ROOT / "specs/resnet50.yaml"))
    assert "nn.Conv2d(planes, planes * expansion, kernel_size=1, bias=False)" in src
    src = to_python(archspec.check(ROOT / "specs/d2l/densenet.yaml"))
    assert "DenseBlockLayer(in_channels + 2 * num_channels)" in src
    assert "out = super().forward(x)\n        return torch.cat([x, out], dim=1)" in src


def test_spec_params_become_arguments_only_when_they_are_one_number(tmp_path):
    done = export(ROOT / "specs/vgg16.yaml", "python", tmp_path / "vgg16.py")
    src = done.path.read_text()
    assert "def __init__(self, dropout=0.5, num_classes=1000):" in src and src.count("nn.Dropout(p=dropout)") == 2
    with torch.device("meta"):
        assert load_python(done.path)(num_classes=7).classifier[6].out_features == 7
    # growth_rate also sets derived channel counts (192, 248, ...): exposing it would be a trap
    src = to_python(archspec.check(ROOT / "specs/d2l/densenet.yaml"))
    assert "def __init__(self, num_classes=10):" in src and "growth_rate=" not in src.split("class Densenet")[1]


def test_stateless_layers_are_shared_like_hand_written_code():
    src = to_python(archspec.check(ROOT / "specs/d2l/mnist_residual.yaml"))
    assert src.count("nn.MaxPool2d(") == 1 and src.count("x = self.mp(x)") == 2


def test_state_dict_keys_match_and_load_strictly(tmp_path):
    done = export(ROOT / "specs/d2l/mnist_inception.yaml", "python", tmp_path / "net.py")
    model = load_python(done.path)()
    assert list(model.state_dict()) == list(done.module.state_dict())
    model.load_state_dict(done.module.state_dict(), strict=True)


def _run_alone(path, code: str) -> subprocess.CompletedProcess:
    """Run `code` in a fresh interpreter where archspec and its other dependencies cannot be imported."""
    guard = textwrap.dedent("""
        import importlib.abc, sys
        BLOCKED = {"archspec", "yaml", "jsonschema", "click", "onnx", "onnxruntime"}
        class Block(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in BLOCKED:
                    raise ImportError(f"{name} is blocked: the export must stand alone")
        sys.meta_path.insert(0, Block())
    """)
    return subprocess.run([sys.executable, "-c", guard + code], cwd=path.parent, capture_output=True, text=True,
                          timeout=120)


def test_runs_with_only_torch(tmp_path):
    done = export(ROOT / "specs/resnet18.yaml", "python", tmp_path / "resnet18.py")
    torch.save(done.module.state_dict(), tmp_path / "weights.pt")
    x = torch.randn(2, 3, 64, 64)
    torch.save(x, tmp_path / "x.pt")
    code = textwrap.dedent("""
        import runpy, torch
        ns = runpy.run_path("resnet18.py")
        model = ns["Resnet18"]().eval()
        model.load_state_dict(torch.load("weights.pt", weights_only=True), strict=True)
        with torch.no_grad():
            torch.save(model(torch.load("x.pt")), "y.pt")
    """)
    done_run = _run_alone(done.path, code)
    assert done_run.returncode == 0, done_run.stderr
    with torch.no_grad():
        want = done.module(x)
    assert torch.allclose(torch.load(tmp_path / "y.pt"), want, atol=1e-5)


def test_main_block_runs_alone_with_its_weights(tmp_path):
    state = archspec.build(ROOT / "specs/d2l/lenet.yaml").state_dict()
    torch.save({"model": state, "epoch": 3}, tmp_path / "ckpt.pt")
    done = export(ROOT / "specs/d2l/lenet.yaml", "python", tmp_path / "lenet.py", checkpoint=tmp_path / "ckpt.pt")
    assert [p.name for p in done.files] == ["lenet.py", "lenet.pt"]
    run = _run_alone(done.path, "import runpy; runpy.run_path('lenet.py', run_name='__main__')")
    assert run.returncode == 0, run.stderr
    assert "torch.Size([1, 10])" in run.stdout
    assert max_difference(done) == 0.0


def test_zoo_covers_every_merge_and_reshaping_op():
    src = to_python(archspec.check(ZOO))
    for text in ["torch.maximum(", "torch.stack([", ") / 3", ".permute(0, 2, 1)", ".reshape(", "torch.cat(["]:
        assert text in src, text
    assert "def forward(self, image, seq, vol):" in src and "return probs, logp" in src


def test_plugin_modules_without_a_torch_nn_class_are_refused():
    from archspec.errors import ArchspecError
    from archspec.export.python.modules import ctor

    class Custom(torch.nn.Module):
        pass

    with pytest.raises(ArchspecError, match="not a torch.nn class"):
        ctor(Custom(), "layer1.0.custom")
