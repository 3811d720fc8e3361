"""The kernel-less cells engine: outputs recorded as nbclient records a kernel's, and the child process's faults."""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import time
from pathlib import Path

import nbformat
import papermill
import pytest
from conftest import copy_project, own_notebook, run_cli
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from evalkit import zygote_client as zygote_client_module
from evalkit.engine import ENGINE_NAME
from evalkit.kernels import launcher_args
from evalkit.processes import process_alive
from evalkit.shell import Outputs
from evalkit.zygote_client import CELLS_PRELOAD, Zygote, ZygoteClient, stop_zygote, zygote_client


def stream(name: str, text: str) -> dict:
    return {"output_type": "stream", "name": name, "text": text}


def plain(text: str) -> dict:
    return {"output_type": "display_data", "data": {"text/plain": text}, "metadata": {}}


# --- how outputs are recorded (pure) ---------------------------------------------------------------------------


@pytest.mark.unit
def test_streams_are_flushed_stdout_first_before_a_display_and_at_the_end_of_the_cell():
    outputs = Outputs()
    outputs.start_cell(0)
    outputs.write("stdout", "a\n")
    outputs.write("stderr", "b\n")
    outputs.write("stdout", "c\n")
    outputs.display({"text/plain": "x"}, None, None, update=False)
    outputs.write("stdout", "d\n")
    assert outputs.end_cell() == [stream("stdout", "a\nc\n"), stream("stderr", "b\n"), plain("x"), stream("stdout", "d\n")]


@pytest.mark.unit
def test_each_flush_of_a_stream_is_an_output_of_its_own_as_each_stream_message_is():
    outputs = Outputs()
    outputs.start_cell(0)
    outputs.write("stdout", "1")
    outputs.flush_streams()
    outputs.write("stdout", "2")
    outputs.flush_streams()
    outputs.flush_streams()  # nothing written since: nothing added
    assert outputs.end_cell() == [stream("stdout", "1"), stream("stdout", "2")]


@pytest.mark.unit
def test_clear_output_clears_now_or_before_the_next_output():
    outputs = Outputs()
    outputs.start_cell(0)
    outputs.write("stdout", "gone\n")
    outputs.clear(wait=False)
    outputs.write("stdout", "kept\n")
    outputs.flush_streams()
    outputs.clear(wait=True)
    assert outputs.outputs == [stream("stdout", "kept\n")]  # wait: nothing cleared until something new comes
    outputs.execute_result({"text/plain": "2"}, {}, count=7)
    assert outputs.end_cell() == [{"output_type": "execute_result", "data": {"text/plain": "2"}, "metadata": {}, "execution_count": 7}]


@pytest.mark.unit
def test_update_display_changes_the_outputs_with_that_id_in_this_and_earlier_cells():
    outputs = Outputs()
    outputs.start_cell(2)
    outputs.display({"text/plain": "one"}, {}, {"display_id": "d"}, update=False)
    outputs.end_cell()
    outputs.start_cell(5)
    outputs.display({"text/plain": "mine"}, {}, {"display_id": "d"}, update=False)
    outputs.display({"text/plain": "two"}, {"k": 1}, {"display_id": "d"}, update=True)
    outputs.display({"text/plain": "unknown"}, {}, {"display_id": "nowhere"}, update=True)
    assert outputs.end_cell() == [{"output_type": "display_data", "data": {"text/plain": "two"}, "metadata": {"k": 1}}]
    assert outputs.updates == [{"cell": 2, "output": 0, "data": {"text/plain": "two"}, "metadata": {"k": 1}}]


@pytest.mark.unit
def test_a_cleared_cell_no_longer_receives_updates():
    outputs = Outputs()
    outputs.start_cell(0)
    outputs.display({"text/plain": "one"}, {}, {"display_id": "d"}, update=False)
    outputs.clear(wait=False)
    outputs.display({"text/plain": "other"}, {}, None, update=False)
    outputs.display({"text/plain": "two"}, {}, {"display_id": "d"}, update=True)
    assert outputs.end_cell() == [plain("other")]


@pytest.mark.unit
def test_display_data_must_be_a_dict():
    outputs = Outputs()
    outputs.start_cell(0)
    with pytest.raises(TypeError, match="must be dicts"):
        outputs.display(["text/plain"], None, None, update=False)


# --- real child processes forked from a real zygote -----------------------------------------------------------


@pytest.fixture(scope="module")
def zygote():
    yield zygote_client(CELLS_PRELOAD)  # as a worker of its own starts it: the shell made in the zygote
    stop_zygote()


def notebook(tmp_path: Path, *cells) -> Path:
    nb = new_notebook(cells=[new_code_cell("x: int = 1", metadata={"tags": ["parameters"]}), *cells],
                      metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    path = tmp_path / "in.ipynb"
    nbformat.write(nb, str(path))
    return path


def run(path: Path, engine: str | None = ENGINE_NAME, **kwargs) -> nbformat.NotebookNode:
    out = path.with_name(f"out-{engine}.ipynb")
    with contextlib.suppress(papermill.PapermillExecutionError):  # the notebook as papermill saved it is what is checked
        papermill.execute_notebook(str(path), str(out), parameters={"x": 5}, progress_bar=False, engine_name=engine, **kwargs)
    return nbformat.read(str(out), as_version=4)


def test_the_cells_run_in_a_shell_and_their_outputs_are_what_a_kernel_gives(zygote, tmp_path):
    path = notebook(
        tmp_path,
        new_markdown_cell("# 見出し"),
        new_code_cell("import sys\nprint('a')\nprint('b', file=sys.stderr)\nprint('c')\nx + 1"),
        new_code_cell("from IPython.display import display, update_display\ndisplay('one', display_id='d')\nprint(type(get_ipython()).__name__)"),
        new_code_cell("update_display('two', display_id='d')\n1;"),
        new_code_cell("   \n"),
        new_code_cell("print('skipped')", metadata={"tags": ["skip-execution"]}),
        new_code_cell("raise ValueError('expected')", metadata={"tags": ["raises-exception"]}),
        new_code_cell("print('before')\n1 / 0"),
        new_code_cell("print('never')"),
    )
    nb = run(path)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert [c.execution_count for c in code] == [1, 2, 3, 4, 5, None, None, 6, 7, None]
    assert code[1].source == "# Parameters\nx = 5\n" and code[1].outputs == []  # papermill's injected parameters cell
    assert code[2].outputs == [stream("stdout", "a\nc\n"), stream("stderr", "b\n"),
                               {"output_type": "execute_result", "data": {"text/plain": "6"}, "metadata": {}, "execution_count": 3}]
    assert code[3].outputs == [plain("'two'"), stream("stdout", "CellShell\n")]  # updated by the next cell
    assert code[4].outputs == []  # a trailing semicolon: no result
    assert code[6].outputs == []
    assert [(o["output_type"], o.get("ename"), o.get("evalue")) for o in code[7].outputs] == [("error", "ValueError", "expected")]
    assert [(o["output_type"], o.get("text"), o.get("ename")) for o in code[8].outputs] == [
        ("stream", "before\n", None), ("error", None, "ZeroDivisionError")]
    assert code[9].outputs == []
    assert [c.metadata.papermill.status for c in code[7:]] == ["completed", "failed", "pending"]
    assert nb.metadata.papermill.exception is True
    assert nb.metadata.language_info.name == "python"
    assert set(code[2].metadata.execution) == {"iopub.status.busy", "iopub.execute_input", "shell.execute_reply", "iopub.status.idle"}


def test_the_outputs_equal_a_fresh_kernels(zygote, tmp_path):
    """The same notebook under nbclient with a new kernel: every output identical, tracebacks included."""
    path = notebook(
        tmp_path,
        new_code_cell("import sys, warnings\nprint('a')\nprint('b', file=sys.stderr)\nx * 2"),
        new_code_cell("import pandas as pd\npd.DataFrame({'a': [1, 2], 'b': ['x', 'y']})"),
        new_code_cell("from IPython.display import HTML, clear_output, display\nprint('gone')\nclear_output()\ndisplay(HTML('<b>太字</b>'))"),
        new_code_cell("warnings.warn('careful')"),
        new_code_cell("print(sys.path.index('') > 0, __name__)\n%who_ls int"),
        new_code_cell("%matplotlib inline\nlen?"),
        new_code_cell("from IPython.display import display\nh = display('one', display_id='again')\ndisplay('two', display_id='again')"),
        new_code_cell("display('three', display_id='again')"),
        new_code_cell("def f():\n    return 1 / 0\nf()"),
    )
    ours, kernel = run(path), run(path, engine=None)

    def outputs(nb):
        text = json.dumps([(c.get("execution_count"), c.get("outputs")) for c in nb.cells], sort_keys=True)
        return re.sub(r"ipykernel_\d+", "ipykernel_PID", text)  # the warning names the process's own folder

    assert outputs(ours) == outputs(kernel)
    assert ours.metadata.language_info == kernel.metadata.language_info  # what nbconvert highlights the code with
    assert "ZeroDivisionError" in outputs(ours) and "careful" in outputs(ours)
    assert outputs(ours).count("three") == 3  # showing a display_id again shows the new data wherever it was shown


def test_what_a_kernel_could_not_send_fails_the_cell_not_the_process(zygote, tmp_path):
    path = notebook(
        tmp_path,
        new_code_cell("print('bad \\udcff byte')"),
        new_code_cell("import os\nos.system('echo from the descriptor')"),
        new_code_cell("input('name? ')", metadata={"tags": ["raises-exception"]}),
        new_code_cell("from IPython.display import display\ndisplay({'text/plain': 'x'}, raw=True, metadata={'o': object()})"),
        new_code_cell("print('not reached')"),
    )
    nb = run(path)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert [(o.ename, o.evalue) for o in code[4].outputs] == [  # as a kernel refuses input() to a batch run
        ("StdinNotImplementedError", "raw_input was called, but this frontend does not support stdin.")]
    assert code[2].outputs == [stream("stdout", "bad \ufffd byte\n")]  # as jupyter_client's packing replaces it
    assert code[3].outputs[0] == stream("stdout", "from the descriptor\n")  # os.system's output, captured from fd 1
    assert [(o.output_type, o.get("ename")) for o in code[5].outputs] == [("error", "TypeError")]
    assert code[6].outputs == [] and nb.metadata.papermill.exception is True


def test_a_result_whose_display_fails_fails_its_cell(zygote, tmp_path):
    path = notebook(
        tmp_path,
        new_code_cell("class Broken:\n    def _repr_html_(self):\n        raise RuntimeError('no html')\nBroken()"),
        new_code_cell("print('not reached')"),
    )
    nb = run(path)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "RuntimeError" in [o.get("ename") for o in code[2].outputs]
    assert code[2].metadata.papermill.status == "failed" and code[3].outputs == []


def test_a_gui_event_loop_is_refused_with_the_option_that_gives_one(zygote, tmp_path):
    nb = run(notebook(tmp_path, new_code_cell("%gui qt")))
    said = nb.cells[-1].outputs  # the %gui magic reports the error on stderr
    assert said == [stream("stderr", "ERROR:root:the 'qt' event loop needs a Jupyter kernel: run the batch with --kernels\n")]


def test_a_cell_that_runs_too_long_is_stopped_with_what_it_printed_and_its_process_killed(zygote, tmp_path):
    path = notebook(tmp_path, new_code_cell("import os\nprint(os.getpid())"),
                    new_code_cell("import time\nprint('partial', flush=True)\ntime.sleep(60)"))
    started = time.monotonic()
    with pytest.raises(CellTimeoutError):
        papermill.execute_notebook(str(path), str(tmp_path / "out.ipynb"), progress_bar=False, engine_name=ENGINE_NAME,
                                   execution_timeout=2)
    assert time.monotonic() - started < 30
    written = nbformat.read(str(tmp_path / "out.ipynb"), as_version=4)  # papermill saves what ran
    pid = int(written.cells[1].outputs[0]["text"])
    assert not process_alive(pid)
    assert [(o.output_type, o.get("text"), o.get("ename")) for o in written.cells[2].outputs] == [
        ("stream", "partial\n", None), ("error", None, "KeyboardInterrupt")]  # interrupted first, as a kernel would be


def test_a_negative_timeout_means_no_limit(zygote, tmp_path):
    nb = run(notebook(tmp_path, new_code_cell("6 * 7")), execution_timeout=-1)
    assert nb.cells[-1].outputs[0]["data"] == {"text/plain": "42"}


def test_a_process_that_dies_fails_its_notebook_alone(zygote, tmp_path):
    path = notebook(tmp_path, new_code_cell("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)"))
    with pytest.raises(DeadKernelError, match="died while running cell 1"):
        papermill.execute_notebook(str(path), str(tmp_path / "out.ipynb"), progress_bar=False, engine_name=ENGINE_NAME)
    (tmp_path / "next").mkdir()
    after = run(notebook(tmp_path / "next", new_code_cell("40 + 2")))  # the zygote forks the next card as before
    assert after.cells[-1].outputs[0]["data"] == {"text/plain": "42"}


def test_a_dead_process_is_noticed_while_something_it_started_holds_its_socket(zygote, tmp_path):
    path = notebook(tmp_path, new_code_cell(
        "import os, signal, subprocess\nsubprocess.Popen(['sleep', '60'], close_fds=False)\nos.kill(os.getpid(), signal.SIGKILL)"))
    started = time.monotonic()
    with pytest.raises(DeadKernelError):
        papermill.execute_notebook(str(path), str(tmp_path / "out.ipynb"), progress_bar=False, engine_name=ENGINE_NAME)
    assert time.monotonic() - started < 20


def parent_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def wait_until_dead(pid: int, seconds: float = 10) -> bool:
    ends = time.monotonic() + seconds
    while process_alive(pid) and time.monotonic() < ends:
        time.sleep(0.05)
    return not process_alive(pid)


def test_the_runs_zygote_serves_every_worker_and_a_cards_process_ends_with_its_worker(tmp_path):
    run = Zygote(CELLS_PRELOAD, listen=True)  # as run_all starts it; two workers connect
    try:
        first, second = ZygoteClient.connect(run.address, run.owner), ZygoteClient.connect(run.address, run.owner)
        (one, one_socket), (two, two_socket) = (c.fork_cells(str(tmp_path), dict(os.environ)) for c in (first, second))
        assert parent_of(one) == parent_of(two) == run.process.pid
        one_socket.sendall(b'{"cells": [[0, "import time; time.sleep(60)", null, true]]}\n')
        assert json.loads(one_socket.makefile("rb").readline())["pid"] == one  # it is running the cell
        one_socket.close()  # as when its worker dies
        assert wait_until_dead(one)
        assert process_alive(two)  # the other worker's card is not touched
        two_socket.close()
        assert wait_until_dead(two)
        first.close()
        third = ZygoteClient.connect(run.address, run.owner).fork_cells(str(tmp_path), dict(os.environ))  # it serves on
        third[1].close()
        assert wait_until_dead(third[0])
    finally:
        run.close()
    assert run.process.returncode == 0
    with pytest.raises(OSError):  # gone with the run: a worker then starts a zygote of its own
        ZygoteClient.connect(run.address, run.owner)


def test_a_card_runs_on_when_the_zygote_dies_and_a_bad_request_costs_only_itself(tmp_path):
    run = Zygote(CELLS_PRELOAD, listen=True)
    try:
        raw = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        raw.connect(run.address)
        assert json.loads(raw.recv(4096)) == {"ready": True}  # once its preload is done
        raw.send(b"not json")  # what a cell that finds the zygote's socket could send
        assert json.loads(raw.recv(4096)) == {"error": "the request is not a JSON object"}
        worker = ZygoteClient.connect(run.address, run.owner)  # kept open: a worker's going ends the cards it asked for
        pid, connection = worker.fork_cells(str(tmp_path), dict(os.environ))
        connection.sendall(b'{"cells": [[0, "import time; time.sleep(1); 6 * 7", null, true]]}\n')
        answers = connection.makefile("rb")
        assert json.loads(answers.readline())["pid"] == pid
        run.process.kill()  # the OOM killer, or a cell killing its parent
        run.process.wait()
        answer = json.loads(answers.readline())
        assert answer["ok"] and answer["outputs"][0]["data"] == {"text/plain": "42"}
        assert "done" in json.loads(answers.readline())
        connection.close()
        assert wait_until_dead(pid)
    finally:
        run.close()


def test_a_card_that_holds_the_interpreter_ends_when_its_worker_goes_and_when_the_run_ends(tmp_path):
    run = Zygote(CELLS_PRELOAD, listen=True)
    busy = b'{"cells": [[0, "sum(range(10 ** 13))", null, true]]}\n'  # C code that never lets a Python thread run
    try:
        cards = []
        for _ in range(2):
            worker = ZygoteClient.connect(run.address, run.owner)
            pid, connection = worker.fork_cells(str(tmp_path), dict(os.environ))
            connection.sendall(busy)
            assert json.loads(connection.makefile("rb").readline())["pid"] == pid
            cards.append((worker, pid, connection))
        (worker, pid, connection), (_, other, _) = cards
        worker.close()  # the worker is killed: every descriptor it held closes
        connection.close()
        assert wait_until_dead(pid, seconds=5)
        assert process_alive(other)
        run.close()  # the run ends (or run_all is killed): its stdin closes
        assert wait_until_dead(other, seconds=5)
    finally:
        run.close()


def test_the_wait_for_the_zygotes_reply_starts_when_its_preload_is_done(tmp_path, monkeypatch):
    (tmp_path / "slow_preload.py").write_text("import time\n\ndef wait():\n    time.sleep(2)\n")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    monkeypatch.setattr(zygote_client_module, "REPLY_TIMEOUT_SECONDS", 0.5)
    own = Zygote(("slow_preload:wait",))
    try:
        pid, connection = own.client.fork_cells(str(tmp_path), dict(os.environ))
        connection.close()
        assert wait_until_dead(pid)
    finally:
        own.close()


def test_a_closed_pipe_is_a_broken_pipe_error_as_in_a_new_interpreter(zygote, tmp_path):
    nb = run(notebook(tmp_path, new_code_cell(
        "import os\nr, w = os.pipe()\nos.close(r)\ntry:\n    os.write(w, b'x')\nexcept BrokenPipeError:\n    print('broken pipe')")))
    assert nb.cells[-1].outputs[0]["text"] == "broken pipe\n"


def test_a_socket_that_is_not_the_runs_zygotes_is_refused(tmp_path):
    impostor = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    address = f"\0evalkit-test-impostor-{os.getpid()}"
    impostor.bind(address)  # as a process could take the name once the run's zygote is gone
    impostor.listen(1)
    try:
        with pytest.raises(ConnectionRefusedError, match="is not the run's zygote"):
            ZygoteClient.connect(address, os.getppid())  # the worker expects the socket of run_all, its parent
        ZygoteClient.connect(address, os.getpid()).close()  # it is this process's
    finally:
        impostor.close()


def test_a_large_environment_reaches_the_cells(zygote, tmp_path, monkeypatch):
    monkeypatch.setenv("EVALKIT_TEST_LARGE", "x" * 400_000)  # beyond what one socket message may carry
    nb = run(notebook(tmp_path, new_code_cell("import os\nlen(os.environ['EVALKIT_TEST_LARGE'])")))
    assert nb.cells[-1].outputs[0]["data"] == {"text/plain": "400000"}


def test_what_a_timed_out_card_started_in_a_session_of_its_own_is_stopped_with_it(zygote, tmp_path):
    path = notebook(tmp_path, new_code_cell(
        "import subprocess, sys, time\n"
        "daemon = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)'], start_new_session=True)\n"
        "print(daemon.pid, flush=True)\ntime.sleep(60)"))
    with pytest.raises(CellTimeoutError):
        papermill.execute_notebook(str(path), str(tmp_path / "out.ipynb"), progress_bar=False, engine_name=ENGINE_NAME,
                                   execution_timeout=2)
    daemon = int(nbformat.read(str(tmp_path / "out.ipynb"), as_version=4).cells[1].outputs[0]["text"])
    assert wait_until_dead(daemon, seconds=3)


@pytest.mark.unit
@pytest.mark.parametrize(("argv", "args"), [
    (["python", "-m", "ipykernel_launcher", "-f", "{connection_file}"], ["-f", "{connection_file}"]),
    (["python", "-Xfrozen_modules=off", "-m", "ipykernel_launcher", "-f", "{connection_file}"], ["-f", "{connection_file}"]),
    (["python", "-X", "frozen_modules=off", "-m", "ipykernel_launcher", "-f", "x"], ["-f", "x"]),
    (["python", "-m", "other_kernel", "-f", "x"], None),
    (["/opt/other/bin/python", "-m", "ipykernel_launcher", "-f", "x"], None),
])
def test_the_kernelspecs_this_interpreter_can_fork(argv, args):
    assert launcher_args(argv) == args


def test_the_engine_module_can_be_imported_before_papermill():
    import subprocess
    import sys

    code = "import evalkit.engine, papermill.engines as e; print(e.papermill_engines.get_engine('evalkit-cells').__name__)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.stdout.strip() == "CellsEngine", result.stderr


def test_the_batch_runs_cells_without_a_kernel_unless_told_to_use_kernels(tmp_path):
    project = copy_project(tmp_path / "project")
    own_notebook(project, "chiiki-kyosei", "print('shell:', type(get_ipython()).__name__)")
    page = project / "outputs/2023/chiiki-kyosei.html"
    for args, shell in (((), "CellShell"), (("--kernels", "--force"), "ZMQInteractiveShell")):
        result = run_cli(project, "--quiet", "--program", "chiiki-kyosei", *args)
        assert result.returncode == 0, result.stdout + result.stderr
        assert f"shell: {shell}" in page.read_text(encoding="utf-8")
