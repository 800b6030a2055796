"""The side process a brief's figures table is read in, while this process embeds sentences and
checks the questions (the quantity reader is pure Python: in a thread it would hold the GIL).

The process is spawned (no state of this one is copied) and kept for the life of this process, so
its quantity reader stays loaded. It starts loading that reader as soon as it starts, and loads it
lighter than a plain import would: quantulum3 imports scikit-learn for a classifier that
kb.quantities switches off, and inflect (a quantulum3 dependency) has typeguard recompile its
functions with run-time type checks on import; together about 3.5 s of CPU of the 4 s it takes.
Here neither happens (`light_import`), which changes nothing quantulum3 reads: the same figures come
out. Where processes cannot be started, a thread pool reads them in this process, with a plain import.
"""

from __future__ import annotations

import atexit
import sys
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable
    from concurrent.futures import Executor, Future

_POOL: list[Executor] = []
_LOCK = threading.Lock()
_AT_EXIT: list[object] = []  # close() registered to run at exit (once)
_UNUSED = ("sklearn", "joblib")  # the classifier's dependencies, imported by quantulum3.classifier


@contextmanager
def light_import() -> Iterator[None]:
    """While quantulum3 is first imported: its unused classifier's dependencies read as missing,
    and typeguard's `@typechecked` (used by inflect) leaves functions as they are. Both are put
    back afterwards; meant for the side process, which imports nothing else."""
    blocked = [name for name in _UNUSED if name not in sys.modules]
    for name in blocked:
        sys.modules[name] = None  # type: ignore[assignment]  # `import sklearn` raises ImportError
    try:
        import typeguard
    except ImportError:  # pragma: no cover - inflect requires it
        typeguard = None
    real = getattr(typeguard, "typechecked", None)
    if typeguard is not None:
        typeguard.typechecked = _unchecked  # type: ignore[assignment]
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Classifier dependencies")
            yield
    finally:
        if typeguard is not None:
            typeguard.typechecked = real  # type: ignore[assignment]
        for name in blocked:
            if sys.modules.get(name, 0) is None:
                del sys.modules[name]


def _unchecked(target: object = None, **_options: object) -> object:
    """`@typechecked` and `@typechecked(...)` as the identity."""
    return target if target is not None else (lambda t: t)


def warm_up() -> None:
    """Load the quantity reader (the side process runs this as soon as it starts)."""
    try:
        with light_import():
            from kb.quantities import extract_quantities

            extract_quantities("1 GW")
    except Exception:  # noqa: BLE001 - the first real read says what is wrong, in the parent
        pass


def pool() -> Executor:
    """The process-wide one-worker side process (warming up as it starts), or a thread pool where
    processes cannot be started."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

    with _LOCK:
        if not _POOL:
            try:
                _POOL.append(ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                                                 initializer=warm_up))
            except (OSError, ValueError, NotImplementedError):
                _POOL.append(ThreadPoolExecutor(max_workers=1))
            if not _AT_EXIT:
                _AT_EXIT.append(atexit.register(close))
        return _POOL[0]


def close() -> None:
    """Stop the side process (at exit: before the interpreter tears its modules down)."""
    with _LOCK:
        pools = list(_POOL)
        _POOL.clear()
    for p in pools:
        p.shutdown(wait=True, cancel_futures=True)


def submit(fn: Callable[..., Any], *args: Any) -> Future[Any]:
    """`fn(*args)` in the side process (a new one if the last has died or was shut down), or run
    here, already done, where none can be started."""
    from concurrent.futures import Future

    for _ in range(2):
        executor = pool()
        try:
            return executor.submit(fn, *args)
        except RuntimeError:  # BrokenProcessPool (the process died) or shut down: start another
            _drop(executor)
    done: Future[Any] = Future()
    try:
        done.set_result(fn(*args))
    except Exception as exc:  # noqa: BLE001 - handed to whoever asks for the result
        done.set_exception(exc)
    return done


def start() -> None:
    """Start the side process now (it warms up while this process does other work)."""
    submit(int)


def _drop(executor: Executor) -> None:
    with _LOCK:
        if _POOL and _POOL[0] is executor:
            _POOL.clear()
    executor.shutdown(wait=False, cancel_futures=True)
