"""The ``planqa`` command: ask, list tasks, build the index, serve — and the commands other packages register.

Library errors become one-line messages here, at the edge; the exit code is 1 for them, 2 for usage.

Other packages add sub-commands without this module importing them: a package declares an entry point in the
group ``planqa.commands`` (``pyproject.toml``), a function that takes the sub-parsers and adds its commands
(as simonw/llm's ``register_commands`` hook does). ``eval`` registers ``planqa eval`` and ``planqa bench`` so.
"""

from __future__ import annotations

import argparse
import json
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
    from index.parse import parse_plan
    from index.store import corpus_title

    plan = parse_plan(settings.corpus.read_text(encoding="utf-8"), title=corpus_title(settings.corpus))
    if args.json:
        from api.schemas import TaskOut

        print(json.dumps([TaskOut.of(t, plan.section_of(t)).model_dump() for t in plan.tasks], ensure_ascii=False))
        return 0
    print(plan.title)
    for section in plan.sections:
        print(f"\n{section.numeral}、{section.title}")
        for t in section.tasks:
            print(f"  {t.number:>3}. {t.title}  [{'、'.join(t.units)}]")
    if plan.missing_tasks or plan.missing_sections:
        print(f"\n缺失的任务编号: {list(plan.missing_tasks)}  缺失的部分: {list(plan.missing_sections)}")
    return 0


def cmd_index_build(args: argparse.Namespace, settings: Settings) -> int:
    from tqdm import tqdm

    from index.embeddings import load_embeddings
    from index.errors import IndexCorruptError, IndexMissingError, IndexStaleError
    from index.store import build_index, corpus_title, load_index, sha256_text

    corpus_path = Path(args.corpus) if args.corpus else settings.corpus
    corpus = corpus_path.read_text(encoding="utf-8")
    embeddings = load_embeddings(settings.embedding_model)
    if args.if_needed:
        try:
            current = load_index(settings.index_dir, embeddings, corpus_sha256=sha256_text(corpus))
            print(f"index up to date: {current.path}")
            return 0
        except (IndexMissingError, IndexStaleError, IndexCorruptError) as e:
            print(f"rebuilding: {e}")
    with tqdm(total=0, unit="句", desc="embedding", disable=args.quiet) as bar:

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        index = build_index(corpus, corpus_title(corpus_path), settings.index_dir, embeddings, progress=progress)
    m = index.manifest
    print(f"built {index.path} ({m.chunks} sentences, {len(index.plan.tasks)} tasks, {m.model_id}, {m.dimension}-d)")
    return 0


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

    _fewer_malloc_arenas()
    # The app builds its own Settings from the environment: pass the overrides on that way.
    os.environ["PLANQA_HOST"], os.environ["PLANQA_PORT"] = settings.host, str(settings.port)
    if args.workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Several worker processes: /metrics sums them through files in a fresh folder.
        import tempfile

        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="planqa-metrics-")
    uvicorn.run(
        "api.main:app_factory",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=args.workers,
        loop="uvloop",  # uvicorn[standard]: the fast event loop and HTTP parser, never a silent fallback
        http="httptools",
        proxy_headers=False,  # X-Forwarded-For is read by the edge layer, from PLANQA_TRUSTED_PROXIES only
        access_log=False,  # the edge layer writes the one line per request
        log_level="warning",
        timeout_graceful_shutdown=10,
    )
    return 0


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
    b.add_argument("--corpus", help="plan text file (default: PLANQA_CORPUS)")
    b.add_argument("--quiet", action="store_true", help="no progress bar")
    b.add_argument("--if-needed", action="store_true", help="only when the index is missing, stale or corrupt")
    b.set_defaults(func=cmd_index_build)

    p = sub.add_parser("serve", help="run the HTTP API")
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.add_argument("--workers", type=int, default=1)
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
