"""Bad inputs cost one program at most: each probe fails that program (or is ignored with one line), never the batch."""

import os

import pytest
from conftest import copy_project, run_cli


def test_odd_files_in_the_programs_folder_are_ignored_or_fail_alone(tmp_path):
    project = copy_project(tmp_path)
    programs = project / "data/programs"
    (programs / "folder.yaml").mkdir()
    os.mkfifo(programs / "pipe.yaml")  # reading it would block: it must never be read
    (programs / ".#chiiki-kyosei.yaml").write_text("id: [unclosed", encoding="utf-8")  # an editor's lock file
    (programs / "copy.yml").write_text("id: copy\nname: x\n", encoding="utf-8")
    result = run_cli(project, "--quiet", timeout=300)
    assert result.returncode == 1
    assert result.stdout.startswith("4 rendered, 0 skipped (unchanged), 6 failed")  # the 4 real cards; 2 odd files × 3 cycles
    notices = [line for line in result.stderr.splitlines() if line.startswith("evalkit: ")]
    assert notices == [
        "evalkit: data/programs/.#chiiki-kyosei.yaml: ignored (only *.yaml files whose name does not start with '.' are read)",
        "evalkit: data/programs/copy.yml: ignored (only *.yaml files whose name does not start with '.' are read)",
    ]
    failed = sorted(line for line in result.stderr.splitlines() if line.startswith("FAILED"))
    assert failed == sorted(
        [f"FAILED {y}/folder: data/programs/folder.yaml: expected a regular file" for y in (2017, 2019, 2023)]
        + [f"FAILED {y}/pipe: data/programs/pipe.yaml: expected a regular file" for y in (2017, 2019, 2023)]
    )
    assert "Traceback" not in result.stderr


@pytest.mark.unit
def test_a_cache_of_another_shape_is_discarded_with_one_line(tmp_path):
    from evalkit.cache import Cache, CardEntry

    lines = []
    for text in ("[]", "null", '{"version": 2}', '{"version": 2, "programs": {}, "cards": {"k": {"ok": true}}}', "{trunc"):
        path = tmp_path / "cache.json"
        path.write_text(text, encoding="utf-8")
        assert Cache.load(path, warn=lines.append) == Cache()
    assert len(lines) == 5 and all("rebuilding it" in line for line in lines)
    cache = Cache(cards={"2023/x": CardEntry(fingerprint="f", ok=True, record={"score": float("inf"), "n": float("nan")})})
    cache.save(tmp_path / "cache.json")  # non-finite values are saved as undefined, never an error
    assert Cache.load(tmp_path / "cache.json").cards["2023/x"].record == {"score": None, "n": None}
