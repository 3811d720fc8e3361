"""Kernels forked from the zygote plug in through jupyter_client's provisioner entry point, and fall back to
fresh kernels by themselves where forking is not possible."""

import json
import re
from importlib.metadata import entry_points

import nbformat
import pytest
from conftest import copy_project, own_notebook, run_cli

from evalkit import kernels

PARENT_CELL = 'import os\nprint("parent:", open(f"/proc/{os.getppid()}/cmdline").read().replace("\\0", " "))'


@pytest.mark.unit
def test_the_provisioner_is_registered_under_its_entry_point():
    (found,) = entry_points(group="jupyter_client.kernel_provisioners", name=kernels.PROVISIONER_NAME)
    assert found.load() is kernels.ForkingProvisioner


@pytest.mark.unit
def test_the_kernelspec_names_the_provisioner_unless_it_names_its_own(tmp_path):
    spec = kernels.ForkingKernelSpecManager().get_kernel_spec("python3")
    assert spec.metadata["kernel_provisioner"] == {"provisioner_name": "evalkit-zygote", "config": {}}
    own = tmp_path / "kernels/other"
    own.mkdir(parents=True)
    (own / "kernel.json").write_text(json.dumps({
        "argv": ["python", "-m", "ipykernel_launcher", "-f", "{connection_file}"], "display_name": "other", "language": "python",
        "metadata": {"kernel_provisioner": {"provisioner_name": "local-provisioner"}},
    }), encoding="utf-8")
    manager = kernels.ForkingKernelSpecManager(kernel_dirs=[str(tmp_path / "kernels")])
    assert manager.get_kernel_spec("other").metadata["kernel_provisioner"]["provisioner_name"] == "local-provisioner"


@pytest.mark.unit
def test_the_kernel_manager_uses_that_kernelspec_manager():
    assert isinstance(kernels.ForkingKernelManager().kernel_spec_manager, kernels.ForkingKernelSpecManager)


@pytest.mark.unit
@pytest.mark.parametrize("value, disabled", [("0", True), ("off", True), ("no", True), ("false", True), ("1", False), ("", False)])
def test_forking_can_be_turned_off_by_the_environment(monkeypatch, value, disabled):
    monkeypatch.setenv(kernels.DISABLE_ENV, value)
    reason = kernels.fork_unsupported_reason()
    assert (reason == f"EVALKIT_FORK_KERNELS={value}") if disabled else reason is None


@pytest.mark.unit
def test_without_proc_or_fork_there_is_a_reason(monkeypatch):
    monkeypatch.delenv(kernels.DISABLE_ENV, raising=False)
    monkeypatch.delattr(kernels.os, "fork")
    assert kernels.fork_unsupported_reason() == "this platform has no fork()"


@pytest.mark.unit
def test_without_proc_there_is_a_reason(monkeypatch):
    monkeypatch.delenv(kernels.DISABLE_ENV, raising=False)
    real_exists = kernels.Path.exists
    monkeypatch.setattr(kernels.Path, "exists", lambda self: False if str(self) == "/proc/self/stat" else real_exists(self))
    assert kernels.fork_unsupported_reason() == "/proc is not available"


@pytest.mark.unit
def test_without_the_registered_provisioner_there_is_a_reason(monkeypatch):
    monkeypatch.delenv(kernels.DISABLE_ENV, raising=False)
    monkeypatch.setattr(kernels, "entry_points", lambda **selection: [])
    assert kernels.fork_unsupported_reason() == "the 'evalkit-zygote' kernel provisioner is not registered (install evalkit with pip)"


def _kernel_parent(project) -> str:
    executed = nbformat.read(str(project / "outputs/2019/kakogawa-shogaisha-sports.ipynb"), as_version=4)
    (line,) = [o.text for c in executed.cells if c.cell_type == "code" for o in c.outputs if o.get("name") == "stdout" and "parent:" in o.text]
    return line


def test_the_batch_forks_kernels_and_falls_back_to_fresh_ones_by_itself(tmp_path):
    """Forced fallback (as on a platform without fork or /proc): one line says so, and the cards are the same."""
    pages = {}
    for mode, env in (("forked", {}), ("fallback", {kernels.DISABLE_ENV: "0"})):
        project = copy_project(tmp_path / mode)
        own_notebook(project, "kakogawa-shogaisha-sports", PARENT_CELL)
        result = run_cli(project, "--program", "kakogawa-shogaisha-sports", "--quiet", env=env)
        assert result.returncode == 0, result.stderr
        notices = [line for line in result.stderr.splitlines() if "new interpreters" in line]
        parent = _kernel_parent(project)
        if mode == "forked":
            assert notices == [] and "evalkit.zygote" in parent
        else:
            assert notices == ["evalkit: kernels start as new interpreters (slower): cannot fork them here: EVALKIT_FORK_KERNELS=0"]
            assert "evalkit.zygote" not in parent
        page = (project / "outputs/2019/kakogawa-shogaisha-sports.html").read_text(encoding="utf-8")
        # the footer has the time, the extra cell a new random id and its own output
        pages[mode] = re.sub(r"cell-id=[0-9a-f]+", "", page.split("<footer", 1)[0].replace(parent, ""))
    assert pages["forked"] == pages["fallback"]


@pytest.mark.unit
@pytest.mark.parametrize("cls", [kernels.ForkingProvisioner, kernels.ForkingKernelSpecManager, kernels.ForkingKernelManager,
                                 kernels.ForkingKernelClient])
def test_no_private_member_of_jupyter_client_is_overridden(cls):
    base_members = {name for base in cls.__mro__[1:] for name in vars(base)}
    ours = {name for name, value in vars(cls).items()  # what the class body defines (not metaclass bookkeeping)
            if getattr(getattr(value, "fget", getattr(value, "func", value)), "__module__", None) == "evalkit.kernels"}
    assert ours  # the class does define methods of its own
    overridden = [name for name in ours if name in base_members and name.startswith("_") and not name.startswith("__")]
    assert overridden == []


@pytest.mark.unit
def test_evalkit_reads_no_private_attribute_of_another_object():
    """Only our own objects' underscore members (self._x) and os._exit (a forked child's documented way out)."""
    import ast
    from pathlib import Path

    found = []
    for path in Path(kernels.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
                owner = ast.unparse(node.value)
                if owner not in {"self", "cls"} and f"{owner}.{node.attr}" != "os._exit":
                    found.append(f"{path.name}:{node.lineno}: {owner}.{node.attr}")
    assert found == []
