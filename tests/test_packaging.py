"""environment.yml (conda) and pyproject.toml (pip) must describe the same environment."""

import re

import pytest
import tomllib
import yaml
from conftest import ROOT

pytestmark = pytest.mark.unit


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~ \[]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_environment_yml_lists_the_same_packages_as_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    wanted = {_name(r) for r in project["dependencies"] + project["optional-dependencies"]["test"]}
    env = yaml.safe_load((ROOT / "environment.yml").read_text(encoding="utf-8"))
    listed = {_name(d) for d in env["dependencies"] if isinstance(d, str)} - {"python", "pip"}
    assert listed == wanted
    assert any(isinstance(d, dict) and "-e ." in d.get("pip", []) for d in env["dependencies"])


def test_readme_first_screen_has_the_two_commands_and_ci_runs_the_test_command():
    first_screen = "\n".join((ROOT / "README.md").read_text(encoding="utf-8").splitlines()[:30])
    report, test = re.findall(r"```bash\n(.*?)\n```", first_screen, flags=re.S)
    assert report == ("python3 -m venv .venv && .venv/bin/pip install -q -e . && .venv/bin/python run_all.py && .venv/bin/python run_all.py "
                      "--data examples/sample-city/data --params examples/sample-city/params --out outputs-sample-city")
    assert test == "bash scripts/test.sh"
    ci = [line for line in (ROOT / ".ci/run").read_text(encoding="utf-8").splitlines() if line and not line.startswith(("#", "set ", "cd "))]
    assert ci == [test]


def test_the_test_script_sets_up_debian_packages_the_venv_and_runs_lint_and_pytest():
    script = (ROOT / "scripts/test.sh").read_text(encoding="utf-8")
    for needed in ("chromium", "fonts-noto-cjk", "apt-get install", "python3 -m venv .venv", '-e ".[test]"', "ruff check", "lint-imports",
                   "python -m pytest"):
        assert needed in script, needed
