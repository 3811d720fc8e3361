"""Benchmark-only tracing of a real ``run_all`` run: every process of the tree records what it spent where.

Nothing here is part of evalkit.  ``benchmarks/bench_run_all.py --profile`` puts
this folder first on ``PYTHONPATH`` and sets ``EVALKIT_BENCH_TRACE=<folder>``;
Python then imports this module at start-up in run_all, in its spawned
workers, in their zygotes and (through the fork) in every kernel.  Without
``EVALKIT_BENCH_TRACE`` it does nothing at all.

Each process appends one JSON line per event to ``<folder>/<pid>.jsonl``:
``{"pid", "role", "name", "t0", "t1", ...}`` with times from
``CLOCK_BOOTTIME`` (shared by all processes, and the clock of the process
start times in ``/proc``).  Functions are wrapped right after their module is
imported (an import hook), so the code under test is the code that ships;
only a few µs are added per wrapped call.  The roles:

- ``main``: run_all (planning, the pool, recording results, indexes);
- ``worker``: a spawned pool worker (warm-up, then ``run_job`` per card: papermill, nbclient, jupyter_client, export);
- ``zygote``: ``python -m evalkit.zygote`` (its preload imports, each fork);
- ``kernel``: a process forked from the zygote: a card's cells without a kernel (by default; the worker's
  ``engine.execute_cells`` covers it), or with ``--kernels`` an ipykernel (its start, each cell, its shutdown).

``EVALKIT_BENCH_CPROFILE=1`` also profiles ``run_job`` in workers and cell
execution in kernels with cProfile (``<folder>/<role>-<pid>.prof``, rewritten
after each card or cell); it slows them down, so timings come from a run without it.
"""

from __future__ import annotations

import os

_FOLDER = os.environ.get("EVALKIT_BENCH_TRACE")

if _FOLDER:  # everything below runs only in a traced benchmark run
    import atexit
    import functools
    import importlib.abc
    import importlib.util
    import inspect
    import json
    import sys
    import threading
    import time

    _CLOCK = time.CLOCK_BOOTTIME
    _state = {"pid": None, "fd": None, "role": None}
    _lock = threading.Lock()
    _profile = os.environ.get("EVALKIT_BENCH_CPROFILE") == "1"

    def now() -> float:
        return time.clock_gettime(_CLOCK)

    def _role_from_cmdline() -> str:
        try:
            with open("/proc/self/cmdline", "rb") as handle:
                argv = handle.read().split(b"\0")
        except OSError:
            return "other"
        text = b" ".join(argv)
        if b"evalkit.zygote" in text:
            return "zygote"
        if b"resource_tracker" in text:
            return "tracker"
        if b"multiprocessing.spawn" in text or b"--multiprocessing-fork" in text:
            return "worker"
        if any(a.endswith(b"run_all.py") or a.endswith(b"/evalkit") for a in argv):
            return "main"
        return "other"

    def _process_start() -> float:
        """When the kernel created this process (CLOCK_BOOTTIME seconds, 10 ms resolution)."""
        with open("/proc/self/stat") as handle:
            ticks = int(handle.read().rsplit(")", 1)[1].split()[19])
        return ticks / os.sysconf("SC_CLK_TCK")

    def emit(name: str, t0: float, t1: float | None = None, **extra: object) -> None:
        pid = os.getpid()
        with _lock:
            if _state["pid"] != pid:  # first event of this process (or of a forked child)
                _state["pid"] = pid
                _state["fd"] = os.open(os.path.join(_FOLDER, f"{pid}.jsonl"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            line = json.dumps({"pid": pid, "role": _state["role"], "name": name, "t0": t0, "t1": t0 if t1 is None else t1, **extra})
            os.write(_state["fd"], (line + "\n").encode())

    def _wrap(function, name: str):
        if getattr(function, "__bench_wrapped__", False):
            return function
        if inspect.iscoroutinefunction(function):
            @functools.wraps(function)
            async def timed_async(*args, **kwargs):
                t0, c0 = now(), time.process_time()
                try:
                    return await function(*args, **kwargs)
                finally:
                    emit(name, t0, now(), cpu=time.process_time() - c0)
            wrapper = timed_async
        else:
            @functools.wraps(function)
            def timed(*args, **kwargs):
                t0, c0 = now(), time.process_time()
                try:
                    return function(*args, **kwargs)
                finally:
                    emit(name, t0, now(), cpu=time.process_time() - c0)
            wrapper = timed
        wrapper.__bench_wrapped__ = True
        return wrapper

    def _patch(owner, attribute: str, name: str | None = None) -> None:
        """Wrap ``owner.attribute`` (a function, method, classmethod or staticmethod) in a timer."""
        if isinstance(owner, type):  # the class's own or inherited attribute, set on this class
            raw = next((klass.__dict__[attribute] for klass in owner.__mro__ if attribute in klass.__dict__), None)
        else:
            raw = getattr(owner, attribute, None)
        if raw is None:
            return
        label = name or f"{getattr(owner, '__name__', owner)}.{attribute}"
        if isinstance(raw, classmethod):
            setattr(owner, attribute, classmethod(_wrap(raw.__func__, label)))
        elif isinstance(raw, staticmethod):
            setattr(owner, attribute, staticmethod(_wrap(raw.__func__, label)))
        else:
            setattr(owner, attribute, _wrap(raw, label))

    # -- cProfile of workers' cards and kernels' cells (optional) ---------------------------------
    _profiler = None

    def _profiled(function, role: str):
        if inspect.iscoroutinefunction(function):
            @functools.wraps(function)
            async def run_async(*args, **kwargs):
                _profiler.enable()
                try:
                    return await function(*args, **kwargs)
                finally:
                    _profiler.disable()
                    _profiler.dump_stats(os.path.join(_FOLDER, f"{role}-{os.getpid()}.prof"))
            return run_async

        @functools.wraps(function)
        def run(*args, **kwargs):
            _profiler.enable()
            try:
                return function(*args, **kwargs)
            finally:
                _profiler.disable()
                _profiler.dump_stats(os.path.join(_FOLDER, f"{role}-{os.getpid()}.prof"))
        return run

    # -- what is wrapped, module by module (applied right after the module is imported) ----------
    def _batch(module):
        for name in ("run_batch", "_remove_leftovers", "plan_batch", "withdraw_stale", "card_fingerprints", "decide", "execute",
                     "_run_pool", "write_indexes", "_record", "_fresh_dir", "read_plan", "_stop_workers", "_publish_prints", "_join_workers"):
            _patch(module, name, f"batch.{name}")

    def _cache(module):
        _patch(module.Cache, "load", "cache.load")
        _patch(module.Cache, "save", "cache.save")

    def _execute(module):
        for name in ("check_parameters", "notebook_to_html", "scrub_paths", "_publishable", "write_atomic_many", "_write_failed_page",
                     "render_job", "publish"):
            _patch(module, name, f"execute.{name}")
        _patch(module, "run_job", "execute.run_job")
        if _profile and _state["role"] == "worker":
            global _profiler
            import cProfile

            _profiler = _profiler or cProfile.Profile()
            module.run_job = _profiled(module.run_job, "worker")

    def _kernels(module):
        _patch(module, "fork_unsupported_reason", "kernels.fork_unsupported_reason")
        _patch(module.ForkingProvisioner, "launch_kernel", "provisioner.launch_kernel")
        _patch(module.ForkingProvisioner, "wait", "provisioner.wait")
        _patch(module.ForkingProvisioner, "send_signal", "provisioner.send_signal")
        _patch(module.ForkingKernelSpecManager, "get_kernel_spec", "kernelspec.get_kernel_spec")

    def _zygote_client(module):
        for name in ("kept_children", "zygote_client", "join_zygote"):
            _patch(module, name, f"zygote.{name}")
        _patch(module, "fork_cells", "zygote.fork_cells")  # cells: the request, and a fallback to a zygote of its own
        _patch(module.ZygoteClient, "fork", "zygote.fork")  # kernels
        _patch(module.Zygote, "__init__", "zygote.start")

    def _processes(module):
        for name in ("become_subreaper", "stop_strays"):
            _patch(module, name, f"processes.{name}")

    def _worker(module):
        _patch(module, "warm_up", "worker.warm_up")

    def _engine(module):
        _patch(module.CellsEngine, "execute_managed_notebook", "engine.execute_cells")

    def _export(module):
        _patch(module, "notebook_to_html", "export.notebook_to_html")

    def _scraps(module):
        for name in ("from_node", "index_record", "open_data_tables"):
            _patch(module, name, f"scraps.{name}")

    def _index(module):
        for name in ("cycle_index_html", "plan_pages", "root_index_html", "summary_csv", "triage_csv", "triage_html"):
            _patch(module, name, f"index.{name}")

    def _index_extras(module):
        for name in ("write_package", "workbook_bytes", "plan_rows", "failed_program_row"):
            _patch(module, name, f"{module.__name__.rsplit('.', 1)[-1]}.{name}")

    def _papermill(module):
        _patch(module, "execute_notebook", "papermill.execute_notebook")

    def _papermill_execute(module):
        for name in ("load_notebook_node", "parameterize_notebook", "_infer_parameters", "prepare_notebook_metadata",
                     "remove_error_markers", "raise_for_execution_errors", "write_ipynb"):
            _patch(module, name, f"papermill.{name}")

    def _papermill_engines(module):
        _patch(module.PapermillEngines, "execute_notebook_with_engine", "papermill.engine")
        _patch(module.NotebookExecutionManager, "save", "papermill.nb_man.save")
        _patch(module, "write_ipynb", "papermill.engines.write_ipynb")

    def _papermill_clientwrap(module):
        _patch(module.PapermillNotebookClient, "papermill_execute_cells", "nbclient.execute_cells")

    def _nbclient(module):
        cls = module.NotebookClient
        for name in ("create_kernel_manager", "start_new_kernel", "start_new_kernel_client", "execute_cell", "_cleanup_kernel"):
            _patch(cls, name, f"nbclient.{name}")

    def _jc_manager(module):
        for name in ("_async_pre_start_kernel", "_async_launch_kernel", "_async_post_start_kernel", "_async_interrupt_kernel",
                     "_async_request_shutdown", "_async_finish_shutdown", "_async_cleanup_resources", "client"):
            _patch(module.KernelManager, name, f"km.{name.replace('_async_', '')}")
        for name in ("start_kernel", "shutdown_kernel"):
            _patch(module.AsyncKernelManager, name, f"km.{name}")

    def _jc_connect(module):
        _patch(module.ConnectionFileMixin, "write_connection_file", "km.write_connection_file")

    def _jc_async_client(module):
        for name in ("start_channels", "stop_channels", "wait_for_ready"):
            _patch(module.AsyncKernelClient, name, f"kc.{name}")

    def _nbformat(module):
        for name in ("writes", "reads", "validate"):
            _patch(module, name, f"nbformat.{name}")

    def _nbconvert_templates(module):
        _patch(module.TemplateExporter, "from_notebook_node", "nbconvert.from_notebook_node")

    def _nbconvert_exporter(module):
        _patch(module.Exporter, "_preprocess", "nbconvert.preprocess")

    def _scrapbook_models(module):
        _patch(module.Notebook, "__init__", "scrapbook.Notebook")

    def _ipykernel_app(module):
        _patch(module.IPKernelApp, "initialize", "ipykernel.initialize")
        _patch(module.IPKernelApp, "start", "ipykernel.start")

    def _ipykernel_base(module):
        for name in ("kernel_info_request", "execute_request", "shutdown_request"):
            _patch(module.Kernel, name, f"ipykernel.{name}")

    def _ipykernel_ipkernel(module):
        _patch(module.IPythonKernel, "do_execute", "ipykernel.do_execute")
        if _profile:
            global _profiler
            import cProfile

            _profiler = _profiler or cProfile.Profile()
            module.IPythonKernel.do_execute = _profiled(module.IPythonKernel.do_execute, "kernel")

    def _futures_process(module):
        _patch(module.ProcessPoolExecutor, "_spawn_process", "pool.spawn_process")
        _patch(module.ProcessPoolExecutor, "shutdown", "pool.shutdown")
        _patch(module.ProcessPoolExecutor, "__init__", "pool.init")

    def _resource_tracker(module):
        _patch(module.ResourceTracker, "ensure_running", "pool.resource_tracker")

    PATCHES = {
        "evalkit.batch": _batch, "evalkit.worker": _worker, "evalkit.engine": _engine,
        "evalkit.cache": _cache, "evalkit.execute": _execute, "evalkit.kernels": _kernels,
        "evalkit.zygote_client": _zygote_client, "evalkit.processes": _processes,
        "evalkit.export": _export, "evalkit.scraps": _scraps, "evalkit.index": _index,
        "evalkit.datapackage": _index_extras, "evalkit.workbook": _index_extras, "evalkit.opendata": _index_extras,
        "papermill": _papermill, "papermill.execute": _papermill_execute, "papermill.engines": _papermill_engines,
        "papermill.clientwrap": _papermill_clientwrap, "nbclient.client": _nbclient,
        "jupyter_client.manager": _jc_manager, "jupyter_client.connect": _jc_connect,
        "jupyter_client.asynchronous.client": _jc_async_client, "nbformat": _nbformat,
        "nbconvert.exporters.templateexporter": _nbconvert_templates, "nbconvert.exporters.exporter": _nbconvert_exporter,
        "scrapbook.models": _scrapbook_models, "ipykernel.kernelapp": _ipykernel_app, "ipykernel.kernelbase": _ipykernel_base,
        "ipykernel.ipkernel": _ipykernel_ipkernel, "concurrent.futures.process": _futures_process,
        "multiprocessing.resource_tracker": _resource_tracker,
    }
    #: imports whose duration is recorded (inclusive of what they import; nested ones overlap)
    TIMED_IMPORTS = {
        "evalkit.cli", "evalkit.batch", "evalkit.execute", "evalkit.export", "evalkit.kernels", "evalkit.index", "evalkit.sections",
        "evalkit.charts", "papermill", "nbconvert", "nbclient", "jupyter_client", "nbformat", "scrapbook", "ipykernel.kernelapp",
        "ipykernel.ipkernel", "matplotlib", "pandas", "seaborn", "IPython", "tqdm", "__mp_main__", "evalkit.datapackage",
        "evalkit.workbook", "evalkit.opendata", "evalkit.publish", "openpyxl", "frictionless", "pyarrow",
    }

    class _Hook(importlib.abc.MetaPathFinder):
        """Finds watched modules through the other finders, then runs their patch after the module executed."""

        def __init__(self) -> None:
            self.busy: set[str] = set()

        def find_spec(self, fullname, path, target=None):
            every = _state["role"] == "kernel"  # a forked kernel: record whatever it imports that the zygote had not
            if (not every and fullname not in PATCHES and fullname not in TIMED_IMPORTS) or fullname in self.busy:
                return None
            self.busy.add(fullname)
            try:
                spec = importlib.util.find_spec(fullname)
            except (ImportError, ValueError):
                return None
            finally:
                self.busy.discard(fullname)
            if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module") or isinstance(spec.loader, type):
                return spec
            original = spec.loader.exec_module

            def exec_module(module, original=original, fullname=fullname):
                t0 = now()
                _depth[0] += 1
                try:
                    original(module)
                finally:
                    _depth[0] -= 1
                if fullname in TIMED_IMPORTS or (every and _depth[0] == 0):
                    emit(f"import {fullname}", t0, now())
                if fullname in PATCHES:
                    PATCHES[fullname](module)

            spec.loader.exec_module = exec_module
            return spec

    _depth = [0]  # nesting of imports being executed (a kernel records only the outermost)

    def _zygote_hooks() -> None:
        original_import = importlib.import_module
        with open("/proc/self/cmdline", "rb") as handle:
            argv = handle.read().decode().split("\0")
        preload = set(argv[argv.index("evalkit.zygote") + 1:]) if "evalkit.zygote" in argv else set()

        def import_module(name, package=None):  # the zygote's preload loop
            if name not in preload or _state["role"] != "zygote":
                return original_import(name, package)
            t0 = now()
            try:
                return original_import(name, package)
            finally:
                emit(f"preload {name}", t0, now())

        importlib.import_module = import_module
        fork_started = {}

        def before() -> None:
            fork_started["t"] = now()

        def in_child() -> None:
            _state["role"] = "kernel"
            emit("kernel.forked", fork_started.get("t", now()), now(), parent=os.getppid())
            exit_ = os._exit

            def traced_exit(code):
                emit("kernel.exit", now())
                exit_(code)

            os._exit = traced_exit

        def in_parent() -> None:
            emit("zygote.fork", fork_started.get("t", now()), now())

        os.register_at_fork(before=before, after_in_parent=in_parent, after_in_child=in_child)

    def _install() -> None:
        _state["role"] = _role_from_cmdline()
        if _state["role"] in ("other", "tracker"):
            return
        start = _process_start()
        emit("process", start, now(), ppid=os.getppid())  # from process creation to this module (interpreter start-up)
        sys.meta_path.insert(0, _Hook())
        if _state["role"] == "zygote":
            _zygote_hooks()
        if _state["role"] in ("main", "worker", "zygote"):
            atexit.register(lambda: emit("exit", now()))

    _install()
