"""The ``planqa`` command: ask, list tasks, build the index, serve — and the commands other packages register.

Library errors become one-line messages here, at the edge; the exit code is 1 for them, 2 for usage.

Other packages add sub-commands without this module importing them: a package declares an entry point in the
group ``planqa.commands`` (``pyproject.toml``), a function that takes the sub-parsers and adds its commands
(as simonw/llm's ``register_commands`` hook does). ``eval`` registers ``planqa eval`` and ``planqa bench`` so.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable
from importlib.metadata import entry_points
from pathlib import Path

from config.settings import Settings
from index.errors import PlanQAError

COMMANDS_GROUP = "planqa.commands"

Command = Callable[[argparse.Namespace, Settings], int]


def _settings(**overrides: object) -> Settings:
    return Settings(**{k: v for k, v in overrides.items() if v is not None})  # type: ignore[arg-type]


def cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    import time

    from api.schemas import AskResponse
    from config.wiring import build_service
    from rag.service import Channel

    service = build_service(settings)
    started = time.perf_counter()
    reply = service.ask(args.question, channel=Channel.CLI, top_k=args.top_k)
    elapsed = (time.perf_counter() - started) * 1000
    if args.json:
        print(AskResponse.of(reply, elapsed).model_dump_json(indent=2))
        return 0
    print(reply.answer.text)
    for c in reply.answer.citations:
        print(f"\n【第{c.task}项】{c.title}（{c.section}）\n  {c.excerpt}\n  责任单位：{'、'.join(c.units)}")
    return 0


def cmd_tasks(args: argparse.Namespace, settings: Settings) -> int:
    from index.readers import parse_document, read_document
    from index.store import corpus_title

    plan = parse_document(read_document(settings.corpus), title=corpus_title(settings.corpus))
    if args.json:
        from api.schemas import TaskOut

        print(json.dumps([TaskOut.of(t, plan.section_of(t)).model_dump() for t in plan.tasks], ensure_ascii=False))
        return 0
    print(plan.title)
    for section in plan.sections:
        print(f"\n{section.numeral}、{section.title}")
        for t in section.tasks:
            print(f"  {t.ref:>5}. {t.title}  [{'、'.join(t.units)}]")
    if plan.missing_refs or plan.missing_sections:
        gaps: list[int] | list[str] = list(plan.missing_tasks) or list(plan.missing_refs)  # refs ("2-3") per section
        print(f"\n缺失的任务编号: {gaps}  缺失的部分: {list(plan.missing_sections)}")
    return 0


def cmd_plans_check(args: argparse.Namespace, settings: Settings) -> int:
    """Parse a plan file and report what it holds, every line left out and anything doubtful."""
    from index.check import check_file
    from index.store import corpus_title

    path = Path(args.file)
    report = check_file(path, title=args.title or corpus_title(path))
    print(json.dumps(report.as_dict(), ensure_ascii=False, indent=2) if args.json else report.render())
    return 0 if report.complete else 1


def cmd_index_build(args: argparse.Namespace, settings: Settings) -> int:
    from tqdm import tqdm

    from index.embeddings import load_embeddings
    from index.readers import read_document
    from index.store import build_index, corpus_title, open_index

    corpus_path = Path(args.corpus) if args.corpus else settings.corpus
    embeddings = load_embeddings(settings.embedding_model)
    _print_build_events()
    embedded = 0  # sentences this process embedded: 0 when the index was up to date, or another process built it
    with tqdm(total=0, unit="句", desc="embedding", disable=args.quiet) as bar:

        def progress(done: int, total: int) -> None:
            nonlocal embedded
            embedded = done
            bar.total = total
            bar.update(done - bar.n)

        if args.if_needed:  # missing, stale or corrupt; and built by one process only, however many run this
            index = open_index(corpus_path, settings.index_dir, embeddings, True, progress, rebuild_corrupt=True)
        else:
            corpus = read_document(corpus_path).text
            index = build_index(corpus, corpus_title(corpus_path), settings.index_dir, embeddings, progress=progress)
    if not embedded:
        print(f"index up to date: {index.path}")
        return 0
    m = index.manifest
    print(f"built {index.path} ({m.chunks} sentences, {len(index.plan.tasks)} tasks, {m.model_id}, {m.dimension}-d)")
    return 0


def _print_build_events() -> None:
    """Say why the index is rebuilt, and that another process's build is awaited (the store logs both)."""
    handler = logging.StreamHandler(sys.stdout)
    handler.addFilter(lambda r: getattr(r, "event", None) in {"index_build", "index_build_wait"})
    logger = logging.getLogger("planqa.index")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)


WECHAT_TOKENS = {"PLANQA_WECHAT_TOKEN": "wechat_token", "PLANQA_WECOM_TOKEN": "wecom_token"}


def check_workers(settings: Settings, workers: int) -> None:
    """PlanQAError when ``workers`` processes cannot serve these settings: the WeChat callbacks keep their state
    (retry de-duplication, 「更多」 and pending answers, the access token) in the process, so on two workers a
    retried message is answered twice and the workers' token fetches invalidate each other's tokens.
    (When that state moves to a shared store, configuring one will lift this.)"""
    if workers < 1:
        raise PlanQAError(f"--workers {workers}: at least 1.")
    wechat = [name for name, field in WECHAT_TOKENS.items() if getattr(settings, field)]
    if workers > 1 and wechat:
        raise PlanQAError(
            f"微信回调需要单进程运行：请使用 --workers 1。{' and '.join(wechat)} is set, and the WeChat callbacks keep "
            f"their state in the process: serve them with one worker (--workers 1, PLANQA_WORKERS=1), not {workers}."
        )


def _fewer_malloc_arenas(arenas: int = 2) -> None:
    """glibc gives every thread that allocates a malloc arena of its own (up to eight a core), and the thread
    pool's threads keep theirs: measured, +37 MiB per worker after a load of unseen questions. Two arenas serve
    one event loop and the embedding threads as well (gunicorn gives the same advice). Workers inherit the
    variable; this process is told directly. Off glibc there is nothing to tune."""
    import ctypes
    import os

    os.environ.setdefault("MALLOC_ARENA_MAX", str(arenas))
    try:
        ctypes.CDLL("libc.so.6").mallopt(-8, int(os.environ["MALLOC_ARENA_MAX"]))  # -8: M_ARENA_MAX
    except (OSError, AttributeError, ValueError):
        pass


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    import os

    import uvicorn

    workers = args.workers or settings.workers
    check_workers(settings, workers)
    _fewer_malloc_arenas()
    # The app builds its own Settings from the environment: pass the overrides on that way.
    os.environ["PLANQA_HOST"], os.environ["PLANQA_PORT"] = settings.host, str(settings.port)
    if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Several worker processes: /metrics sums them through files in a fresh folder.
        import tempfile

        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="planqa-metrics-")
    uvicorn.run(
        "api.main:app_factory",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=workers,
        loop="uvloop",  # uvicorn[standard]: the fast event loop and HTTP parser, never a silent fallback
        http="httptools",
        proxy_headers=False,  # X-Forwarded-For is read by the edge layer, from PLANQA_TRUSTED_PROXIES only
        access_log=False,  # the edge layer writes the one line per request
        log_level="warning",
        log_config=_uvicorn_logging(),
        timeout_graceful_shutdown=10,
    )
    return 0


class KnownStartupFailure(logging.Filter):
    """Drops the traceback uvicorn logs when start-up fails with one of PlanQA's own errors (a corrupt index, a
    full disk, a malformed key): the app has just logged its message — what is wrong and what to do — and a
    traceback would bury it. Any other failure keeps its traceback."""

    OWN = ("index.errors.", "ValueError: ")  # what the app's lifespan reports (api/main.py)

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        return not (text.startswith("Traceback") and text.rstrip().rsplit("\n", 1)[-1].startswith(self.OWN))


def _uvicorn_logging() -> dict[str, object]:
    """uvicorn's logging configuration, with KnownStartupFailure on its error log (each worker applies it)."""
    import copy

    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["filters"] = {"known_startup_failure": {"()": f"{__name__}.KnownStartupFailure"}}
    config["handlers"]["default"]["filters"] = ["known_startup_failure"]
    return config


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="planqa", description="工作要点问答 PlanQA: cited answers about a work plan")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("ask", help="answer a question, with citations")
    p.add_argument("question")
    p.add_argument("--json", action="store_true", help="print the API's JSON")
    p.add_argument("--top-k", type=int, default=None)
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("tasks", help="list the plan's sections and tasks")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_tasks)

    p = sub.add_parser("index", help="manage the index")
    index_sub = p.add_subparsers(dest="index_command", required=True)
    b = index_sub.add_parser("build", help="parse, embed and persist the corpus")
    b.add_argument("--corpus", help="plan file: .txt, .docx, .pdf or .html (default: PLANQA_CORPUS)")
    b.add_argument("--quiet", action="store_true", help="no progress bar")
    b.add_argument("--if-needed", action="store_true", help="only when the index is missing, stale or corrupt")
    b.set_defaults(func=cmd_index_build)

    p = sub.add_parser("plans", help="work with plan files")
    plans_sub = p.add_subparsers(dest="plans_command", required=True)
    c = plans_sub.add_parser("check", help="parse a plan file and report tasks, units, gaps and dropped lines")
    c.add_argument("file", help="the plan: .txt (UTF-8 or GB18030), .docx, .pdf or .html")
    c.add_argument("--title", help="the plan's title (default: <file>.meta.json's, or the text's title line)")
    c.add_argument("--json", action="store_true", help="the report as JSON")
    c.set_defaults(func=cmd_plans_check)

    p = sub.add_parser("serve", help="run the HTTP API")
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.add_argument("--workers", type=int, help="worker processes (default: PLANQA_WORKERS, 1)")
    p.set_defaults(func=cmd_serve)

    for hook in entry_points(group=COMMANDS_GROUP):  # planqa eval, planqa bench (eval/cli.py), …
        hook.load()(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    # No SIGPIPE handler is installed, for any command: with SIGPIPE's default action a server dies, silently,
    # the first time it writes to a client that hung up. A reader that stops early (`planqa tasks | head`)
    # raises BrokenPipeError in the printing commands instead, which ends them quietly below.
    args = build_parser().parse_args(argv)
    try:
        settings = _settings(host=getattr(args, "host", None), port=getattr(args, "port", None))
        return int(args.func(args, settings))
    except BrokenPipeError:
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # the interpreter flushes stdout at exit
        return 0
    except PlanQAError as e:
        print(f"planqa: {e}", file=sys.stderr)
        return 1
    except ValueError as e:  # settings validation: names the variable to fix
        print(f"planqa: invalid settings: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
