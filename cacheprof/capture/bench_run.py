"""Running a bench suite over one or more engines: each engine builds one thing at a time, the engines
work concurrently, and an engine that is unreachable or dies fails only the benchmarks given to it."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from ..errors import CacheprofError, EngineError, EngineUnreachableError, UsageError
from ..model import EngineInfo, Profile, RunPlan
from .driver import DockerDriver, Driver
from .session import open_driver, run_plan


@dataclass(frozen=True)
class EngineSpec:
    name: str
    # A DOCKER_HOST-style URL (unix://, tcp://, ssh://); None: the SDK's environment (DOCKER_HOST...).
    url: str | None
    # tcp:// with TLS: the folder holding ca.pem, cert.pem and key.pem (as DOCKER_CERT_PATH).
    tls_cert_path: str | None = None


@dataclass(frozen=True)
class BenchOutcome:
    benchmark: str
    engine: EngineSpec
    profile: Profile
    # Why the benchmark has no or only some builds: its engine was unreachable or died, or a usage error.
    error: str | None = None
    # False when its engine did not answer at all (nothing was tried).
    reached: bool = True


def assign(names: Sequence[str], wanted: Mapping[str, str | None], engines: Sequence[EngineSpec]
           ) -> dict[str, EngineSpec]:
    """Which engine runs each benchmark: the one the suite names, else round-robin in suite order. The
    same suite gives the same assignment every night, so each benchmark's baseline stays on its engine."""
    by_name = {e.name: e for e in engines}
    out: dict[str, EngineSpec] = {}
    free = [n for n in names if not wanted.get(n)]
    for n in names:
        w = wanted.get(n)
        if w:
            if w not in by_name:
                raise UsageError(f"benchmark {n!r} asks for engine {w!r}; the engines are {', '.join(by_name)}")
            out[n] = by_name[w]
    for i, n in enumerate(free):
        out[n] = engines[i % len(engines)]
    return out


def _empty_profile(plan: RunPlan, engine: EngineInfo | None) -> Profile:
    return Profile(builder=str(plan.builder), dockerfile=str(plan.dockerfile), context=str(plan.context), builds=(),
                   engine=engine, target=plan.target, build_args=dict(plan.build_args),
                   scenarios=tuple(s.name for s in plan.scenarios))


def _run_engine(engine: EngineSpec, names: Sequence[str], plans: Mapping[str, RunPlan], *, quiet: bool,
                live: bool, say: Callable[[str], None], driver_factory: Callable[[str | None], Driver],
                stop: threading.Event | None = None) -> tuple[list[BenchOutcome], BaseException | None]:
    """Run `names` on one engine, in order. Returns the outcomes and a Ctrl-C, if one stopped it."""
    out: list[BenchOutcome] = []
    try:
        driver = driver_factory(engine.url) if engine.tls_cert_path is None else \
            DockerDriver(engine.url, tls_cert_path=engine.tls_cert_path)
    except CacheprofError as e:
        error = f"engine {engine.name}: {e}"
        return [BenchOutcome(n, engine, _empty_profile(plans[n], None), error, reached=False) for n in names], None
    info: EngineInfo | None = None
    try:
        info = driver.engine_info()
        dead: str | None = None
        for n in names:
            plan = plans[n]
            if stop is not None and stop.is_set():
                dead = dead or "interrupted (Ctrl-C) before it started; not run"
            if dead is not None:
                out.append(BenchOutcome(n, engine, _empty_profile(plan, info), dead))
                continue
            t0 = time.perf_counter()
            profile, failure = run_plan(driver, plan, quiet=quiet or not live)
            if isinstance(failure, KeyboardInterrupt):
                out.append(BenchOutcome(n, engine, profile, "interrupted (Ctrl-C)"))
                return out, failure
            error = None
            if isinstance(failure, EngineUnreachableError | EngineError):
                error = f"engine {engine.name}: {failure}"
                # The engine is gone: the rest of its list is reported, not tried against a dead socket.
                dead = f"engine {engine.name} stopped answering during benchmark {n!r}; not run"
            elif failure is not None:
                error = str(failure)
            out.append(BenchOutcome(n, engine, profile, error))
            if not live and not quiet:
                ok = sum(b.ok for b in profile.builds)
                say(f"{n} on {engine.name}: {ok}/{len(profile.builds)} build(s) ok in "
                    f"{time.perf_counter() - t0:.1f} s" + (f" ({error})" if error else ""))
    finally:
        try:
            driver.close()
        except Exception:  # closing a dead engine's client must not hide what was measured
            pass
    return out, None


def run_suite(plans: Mapping[str, RunPlan], assignment: Mapping[str, EngineSpec], *, quiet: bool = False,
              driver_factory: Callable[[str | None], Driver] = open_driver,
              ) -> tuple[dict[str, BenchOutcome], BaseException | None]:
    """Run every plan on its engine. With one engine everything runs here with live progress; with
    several, one thread per engine (each engine still builds one thing at a time)."""
    per_engine: dict[str, tuple[EngineSpec, list[str]]] = {}
    for n in plans:
        e = assignment[n]
        per_engine.setdefault(e.name, (e, []))[1].append(n)
    lock = threading.Lock()

    def say(text: str) -> None:
        with lock:
            print(text, file=sys.stderr, flush=True)

    results: dict[str, BenchOutcome] = {}
    interrupt: BaseException | None = None
    if len(per_engine) == 1:
        (engine, names), = per_engine.values()
        outs, interrupt = _run_engine(engine, names, plans, quiet=quiet, live=True, say=say,
                                      driver_factory=driver_factory)
        results.update((o.benchmark, o) for o in outs)
        return results, interrupt
    stop = threading.Event()
    with ThreadPoolExecutor(max_workers=len(per_engine), thread_name_prefix="engine") as pool:
        futures = [pool.submit(_run_engine, e, names, plans, quiet=quiet, live=False, say=say,
                               driver_factory=driver_factory, stop=stop) for e, names in per_engine.values()]
        for f in futures:
            while True:
                try:
                    outs, stopped = f.result()
                    break
                except KeyboardInterrupt:
                    # Ctrl-C reaches this thread only: let each engine finish its build in progress, start
                    # nothing new, and keep everything measured.
                    stop.set()
                    interrupt = interrupt or KeyboardInterrupt()
                    say("interrupted: finishing the builds in progress, then storing what was measured")
            results.update((o.benchmark, o) for o in outs)
            interrupt = interrupt or stopped
    return results, interrupt

