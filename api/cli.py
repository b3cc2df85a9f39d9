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
    from config.wiring import build_library
    from rag.service import Channel

    library = build_library(settings)
    started = time.perf_counter()
    reply = library.ask(args.question, channel=Channel.CLI, top_k=args.top_k, plan=args.plan)
    elapsed = (time.perf_counter() - started) * 1000
    if args.json:
        print(AskResponse.of(reply, elapsed).model_dump_json(indent=2))
        return 0
    print(reply.answer.text)
    for c in reply.answer.citations:
        where = f"《{c.plan_title}》" if len(library.plans) > 1 and c.plan_title else ""
        print(
            f"\n{where}【{c.label or f'第{c.task}项'}】{c.title}（{c.section}）\n  {c.excerpt}\n"
            f"  责任单位：{'、'.join(c.units)}"
        )
    return 0


def cmd_tasks(args: argparse.Namespace, settings: Settings) -> int:
    plan = _plan_of(settings, args.plan)
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


def _plan_of(settings: Settings, plan_id: str | None):  # type: ignore[no-untyped-def]
    """The parsed plan ``plan_id`` of the library (the default plan when None), read from its file."""
    from config.wiring import library_config, plan_folder
    from index.errors import PlanNotFoundError
    from index.library import describe
    from index.readers import parse_document, read_document
    from index.store import corpus_title
    from rag.library import default_plan_id

    files = {m.id: (m, p) for p in plan_folder(settings).files() for m in [describe(p)]}
    plan_id = plan_id or default_plan_id([m for m, _ in files.values()], library_config(settings))
    if plan_id not in files:
        raise PlanNotFoundError(f"没有编号为 {plan_id} 的计划。No plan {plan_id!r}; known: {', '.join(files)}.")
    path = files[plan_id][1]
    return parse_document(read_document(path), title=corpus_title(path))


def cmd_plans_list(args: argparse.Namespace, settings: Settings) -> int:
    from config.wiring import build_library

    library = build_library(settings)
    rows = [
        {**m.as_dict(), "tasks": len(library.entry(m.id).plan.tasks), "default": m.id == library.default_plan}
        for m in library.plans
    ]
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return 0
    for r in rows:
        mark = "*" if r["default"] else " "
        print(f"{mark} {r['id']:<24} {r['year'] or '':<5} {r['issuer'] or '—':<24} {r['tasks']:>3} 项  {r['title']}")
    print("\n* 默认计划 default plan")
    return 0


def cmd_plans_add(args: argparse.Namespace, settings: Settings) -> int:
    """Check, index and add a plan file to PLANQA_PLANS; a running server picks it up within seconds."""
    from config.wiring import plan_folder, vector_store
    from index.embeddings import load_embeddings
    from index.errors import PlanRejectedError

    path = Path(args.file)
    embeddings = load_embeddings(settings.embedding_model)
    folder = plan_folder(settings, vector_store(settings, embeddings.dimension))
    meta = {"title": args.title, "issuer": args.issuer, "region": args.region, "year": args.year}
    try:
        data = path.read_bytes()
    except OSError as e:
        raise PlanQAError(f"无法读取文件：{path}。Cannot read {path} ({e.strerror or e}).") from e
    try:
        added = folder.add(data, path.name, embeddings, plan_id=args.id, meta=meta, replace=args.replace)
    except PlanRejectedError as e:
        print(e.report.render(), file=sys.stderr)  # type: ignore[attr-defined]
        raise
    m = added.plan.meta
    print(added.report.render() if args.verbose else f"{len(added.report.warnings)} warning(s)")
    verb = "replaced" if added.replaced else "added"
    print(f"{verb} {m.id}: 《{m.title}》 ({len(added.plan.index.plan.tasks)} tasks) → {added.plan.path}")
    return 0


def cmd_plans_remove(args: argparse.Namespace, settings: Settings) -> int:
    from config.wiring import plan_folder, vector_store
    from index.embeddings import load_embeddings

    dimension = load_embeddings(settings.embedding_model).dimension
    kept = plan_folder(settings, vector_store(settings, dimension)).remove(args.id)
    print(f"removed {args.id}; its file is kept at {kept}")
    return 0


def cmd_diff(args: argparse.Namespace, settings: Settings) -> int:
    """Two plans of one issuer compared task by task (older first, whatever the order given)."""
    from config.wiring import build_library
    from rag.yoy import describe_diff

    library = build_library(settings)
    old, new, diff = library.comparisons.diff(args.old, args.new)
    if args.json:
        from api.schemas_library import PlanDiffOut

        print(PlanDiffOut.of(old, new, diff).model_dump_json(indent=2))
        return 0
    print(describe_diff(old, new, diff))
    return 0


def cmd_matrix(args: argparse.Namespace, settings: Settings) -> int:
    """The responsibility matrix (任务分工表) of a plan, or of every plan (a sheet each), as .xlsx or .csv; with
    ``--unit``, one unit's duties printed instead."""
    if args.unit:
        return _print_duties(args, settings)
    from config.wiring import build_library
    from index.matrix import matrix_csv, matrix_xlsx

    library = build_library(settings)
    entries = list(library.shelf.entries.values()) if args.id == "all" else [library.entry(args.id)]
    out = Path(args.out or (f"{args.id}-任务分工表.{args.format}"))
    if args.format == "csv":
        if len(entries) != 1:
            raise PlanQAError("CSV 只能导出一份计划。A CSV holds one plan: name it, or use --format xlsx for all.")
        out.write_bytes(matrix_csv(entries[0].plan))
    else:
        out.write_bytes(matrix_xlsx([(e.meta.id, e.plan) for e in entries]))
    print(f"wrote {out} ({', '.join(e.meta.id for e in entries)})")
    return 0


def _print_duties(args: argparse.Namespace, settings: Settings) -> int:
    """Every task the unit leads, supports or carries out in the plan, with the task as written."""
    from api.schemas_library import duties_out
    from index.errors import PlanNotFoundError
    from index.matrix import duties
    from index.units import resolve_unit, unit_names

    if args.id == "all":
        raise PlanQAError("--unit 需要指定一份计划。--unit needs one plan: give its id (planqa plans list).")
    plan = _plan_of(settings, args.id)
    matches = resolve_unit(plan, args.unit)
    if len(matches) != 1:
        known = "、".join(unit_names(plan))
        raise PlanNotFoundError(
            f"计划中没有“{args.unit}”（或名称不唯一）。可用单位：{known}。Unknown or ambiguous unit {args.unit!r}."
        )
    unit, found = matches[0], duties(plan, matches[0])
    if args.json:
        print(duties_out(args.id, unit, found).model_dump_json(indent=2))
        return 0
    counts = "，".join(
        f"{role.label}{sum(d.role is role for d in found)}项" for role in dict.fromkeys(d.role for d in found)
    )
    print(f"{unit}在《{plan.title}》中的分工：共{len(found)}项（{counts}）")
    for d in found:
        shared = "（与机关各科室共同）" if d.collective else ""
        print(f"\n{d.task.label} · {d.role.label}{shared} · {d.task.title}（{d.section}）\n  {d.task.text}")
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

    from config.wiring import plan_folder, vector_store
    from index.embeddings import load_embeddings
    from index.readers import read_document
    from index.store import build_index, corpus_title, open_index

    embeddings = load_embeddings(settings.embedding_model)
    if settings.plans is not None and not args.corpus:  # a plans folder: every plan's index (one with --plan)
        return _build_folder(args, settings, embeddings)
    corpus_path = Path(args.corpus) if args.corpus else settings.corpus
    _print_build_events()
    embedded = 0  # sentences this process embedded: 0 when the index was up to date, or another process built it
    with tqdm(total=0, unit="句", desc="embedding", disable=args.quiet) as bar:

        def progress(done: int, total: int) -> None:
            nonlocal embedded
            embedded = done
            bar.total = total
            bar.update(done - bar.n)

        store = vector_store(settings, embeddings.dimension)
        tag = plan_folder(settings, store).tag(corpus_path)  # the id the server's library gives the plan
        if args.if_needed:  # missing, stale or corrupt; and built by one process only, however many run this
            index = open_index(
                corpus_path, settings.index_dir, embeddings, True, progress, rebuild_corrupt=True, store=store, tag=tag
            )
        else:
            corpus = read_document(corpus_path).text
            index = build_index(
                corpus, corpus_title(corpus_path), settings.index_dir, embeddings, progress=progress, store=store,
                tag=tag,
            )  # fmt: skip
    if not embedded:
        print(f"index up to date: {index.path}")
        return 0
    m = index.manifest
    print(f"built {index.path} ({m.chunks} sentences, {len(index.plan.tasks)} tasks, {m.model_id}, {m.dimension}-d)")
    return 0


def _build_folder(args: argparse.Namespace, settings: Settings, embeddings) -> int:  # type: ignore[no-untyped-def]
    from config.wiring import plan_folder, vector_store
    from index.library import plan_id_of
    from index.readers import read_document
    from index.store import build_index, corpus_title

    folder = plan_folder(settings, vector_store(settings, embeddings.dimension))
    _print_build_events()
    files = [p for p in folder.files() if args.plan is None or plan_id_of(p) == args.plan]
    if not files:
        raise PlanQAError(f"没有编号为 {args.plan} 的计划。No plan {args.plan!r} in {settings.plans}.")
    for path in files:
        if args.if_needed:
            loaded = folder.load(path, embeddings, True, rebuild_corrupt=True)
            index = loaded.index
        else:
            plan_id = plan_id_of(path)
            text = read_document(path).text
            index = build_index(
                text,
                corpus_title(path),
                folder.index_dir(plan_id),
                embeddings,
                store=folder.store,
                tag=folder.tag(path),
            )
        print(f"{plan_id_of(path)}: {index.path} ({index.manifest.chunks} sentences, {len(index.plan.tasks)} tasks)")
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
    """PlanQAError when ``workers`` processes cannot serve these settings: with several workers, the WeChat
    callbacks need their state (retry de-duplication, 「更多」 and pending answers, the access token) in a shared
    store — sqlite, the default with several workers, or redis — or a retried message landing on another worker
    is answered twice and the workers' token fetches invalidate each other's tokens."""
    if workers < 1:
        raise PlanQAError(f"--workers {workers}: at least 1.")
    wechat = [name for name, field in WECHAT_TOKENS.items() if getattr(settings, field)]
    if workers > 1 and wechat and settings.state_backend(workers) == "memory":
        raise PlanQAError(
            "微信回调在多进程下需要共享状态存储：请设置 PLANQA_STATE_STORE=sqlite（或设置 PLANQA_REDIS_URL 使用 "
            "Redis），或使用 --workers 1。"
            f"{' and '.join(wechat)} is set and PLANQA_STATE_STORE=memory keeps the WeChat callbacks' state in "
            f"each process: with {workers} workers a retried message would be answered twice. Set "
            "PLANQA_STATE_STORE=sqlite (or unset it: several workers then share PLANQA_STATE_PATH, a SQLite file), "
            "or PLANQA_REDIS_URL=redis://host:6379/0 with PLANQA_STATE_STORE=redis (several machines), "
            "or serve with --workers 1."
        )
    if workers > 1 and settings.vector_store == "milvus" and settings.milvus_address.endswith(".db"):
        raise PlanQAError(
            f"milvus-lite 只能由一个进程打开：请使用 --workers 1 或 Milvus 服务器。milvus-lite "
            f"({settings.milvus_address}) opens its file in one process only: serve with --workers 1, or set "
            f"PLANQA_MILVUS_URI to a Milvus server (http://host:19530) for {workers} workers."
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
    # The app builds its own Settings from the environment: pass the overrides on that way (the worker count
    # too: it decides the default state store, Settings.state_backend).
    os.environ["PLANQA_HOST"], os.environ["PLANQA_PORT"] = settings.host, str(settings.port)
    os.environ["PLANQA_WORKERS"] = str(workers)
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
    p.add_argument("--plan", help="the plan to answer from (default: the one the question names, else the default)")
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("tasks", help="list the plan's sections and tasks")
    p.add_argument("--json", action="store_true")
    p.add_argument("--plan", help="plan id (default: the default plan)")
    p.set_defaults(func=cmd_tasks)

    p = sub.add_parser("diff", help="compare two plans of one issuer task by task (year over year)")
    p.add_argument("old")
    p.add_argument("new")
    p.add_argument("--json", action="store_true", help="the API's JSON (GET /plans/{a}/diff/{b})")
    p.set_defaults(func=cmd_diff)

    p = sub.add_parser("matrix", help="write the responsibility matrix (任务分工表) as .xlsx or .csv")
    p.add_argument("id", help="plan id, or 'all' (xlsx: a sheet per plan)")
    p.add_argument("--format", choices=["xlsx", "csv"], default="xlsx")
    p.add_argument("--out", help="file to write (default: <id>-任务分工表.<format>)")
    p.add_argument("--unit", help="print this unit's duties instead (every task it leads, supports or carries out)")
    p.add_argument(
        "--json", action="store_true", help="with --unit: the API's JSON (GET /plans/{id}/units/{name}/duties)"
    )
    p.set_defaults(func=cmd_matrix)

    p = sub.add_parser("index", help="manage the index")
    index_sub = p.add_subparsers(dest="index_command", required=True)
    b = index_sub.add_parser("build", help="parse, embed and persist the corpus")
    b.add_argument("--corpus", help="plan file: .txt, .docx, .pdf or .html (default: PLANQA_CORPUS)")
    b.add_argument("--quiet", action="store_true", help="no progress bar")
    b.add_argument("--if-needed", action="store_true", help="only when the index is missing, stale or corrupt")
    b.add_argument("--plan", help="with PLANQA_PLANS: only this plan's index")
    b.set_defaults(func=cmd_index_build)

    p = sub.add_parser("plans", help="work with plan files")
    plans_sub = p.add_subparsers(dest="plans_command", required=True)
    c = plans_sub.add_parser("check", help="parse a plan file and report tasks, units, gaps and dropped lines")
    c.add_argument("file", help="the plan: .txt (UTF-8 or GB18030), .docx, .pdf or .html")
    c.add_argument("--title", help="the plan's title (default: <file>.meta.json's, or the text's title line)")
    c.add_argument("--json", action="store_true", help="the report as JSON")
    c.set_defaults(func=cmd_plans_check)
    c = plans_sub.add_parser("list", help="the plans served (PLANQA_PLANS, or PLANQA_CORPUS alone)")
    c.add_argument("--json", action="store_true")
    c.set_defaults(func=cmd_plans_list)
    c = plans_sub.add_parser("add", help="check, index and add a plan file to PLANQA_PLANS")
    c.add_argument("file", help="the plan: .txt, .docx, .pdf or .html")
    c.add_argument("--id", help="plan id (default: the meta.json's, the file name, or region and year)")
    c.add_argument("--title")
    c.add_argument("--issuer")
    c.add_argument("--region")
    c.add_argument("--year", type=int)
    c.add_argument("--replace", action="store_true", help="replace the plan of the same id")
    c.add_argument("--verbose", action="store_true", help="print the whole check report")
    c.set_defaults(func=cmd_plans_add)
    c = plans_sub.add_parser("remove", help="stop serving a plan (its file is kept in .removed/)")
    c.add_argument("id")
    c.set_defaults(func=cmd_plans_remove)

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
