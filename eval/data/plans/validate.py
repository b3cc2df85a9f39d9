"""Validate the fixture plans in this folder (run: python eval/data/plans/validate.py).

Checks: JSON parses; every non-blank line of each .txt is exactly one of title / dropped line / preamble /
section heading / sub-section heading / task / own-line note / trailing line; every structure task has its line
(number marker + title + 。), in order, under its section; titles are the text before the first 。; notes are
verbatim after the task; refs are unique and numbering gaps equal missing_tasks; roles re-derived from each note
by the README rules equal the declared lead/support/local/leaders; gold ids, splits, categories and refs are
valid, who-units equal the structure's, reverse sets are complete, must_contain strings occur in the gold task.
"""

import glob
import json
import os
import re
import sys
from collections import Counter

D = os.path.dirname(os.path.abspath(__file__))
CATS = {
    "who",
    "who_colloquial",
    "support",
    "reverse",
    "task",
    "task_absent",
    "section",
    "fact_number",
    "what_how",
    "english",
    "out_of_scope",
}
KINDS = {"who", "reverse", "task", "section", "fact"}
KEY_RE = re.compile(r"(责任单位|牵头单位|配合单位|责任处室|责任科室|承办单位|责任领导)[：:]")
WS = " \u3000\t"
errors: list[str] = []


def err(pid, msg):
    errors.append(f"[{pid}] {msg}")


def split_top(s, seps):
    """split at separators not inside （）/()"""
    out, cur, depth = [], "", 0
    for ch in s:
        if ch in "（(":
            depth += 1
        elif ch in "）)":
            depth -= 1
        if depth == 0 and ch in seps:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    out.append(cur)
    out = [u.strip() for u in out if u.strip()]
    # the collective enumeration 各区、县级市… is one unit
    merged = []
    for u in out:
        if merged and merged[-1] == "各区" and u.startswith("县级市"):
            merged[-1] = "各区、" + u
        else:
            merged.append(u)
    return merged


def first_top(s, seps):
    depth = 0
    for i, ch in enumerate(s):
        if ch in "（(":
            depth += 1
        elif ch in "）)":
            depth -= 1
        elif depth == 0 and ch in seps:
            return s[:i], s[i + 1 :]
    return s, ""


def roles(note):
    inner = note.strip()
    assert inner[0] in "（(" and inner[-1] in "）)", note
    inner = inner[1:-1]
    ms = list(KEY_RE.finditer(inner))
    assert ms and ms[0].start() == 0, note
    lead, sup, loc, ldr = [], [], [], []
    for i, m in enumerate(ms):
        end = ms[i + 1].start() if i + 1 < len(ms) else len(inner)
        val = inner[m.end() : end].rstrip("；;，, ")
        key = m.group(1)
        if key == "责任领导":
            ldr += split_top(val, "、")
        elif key in ("牵头单位", "配合单位"):
            head, tail = first_top(val, "，,；;")
            for u in split_top(head, "、"):
                (loc if u.startswith("各") else (lead if key == "牵头单位" else sup)).append(u)
            loc += split_top(tail, "、，,；;")
        else:
            head, tail = first_top(val, "，,；;")
            hu = split_top(head, "、")
            for j, u in enumerate(hu):
                (loc if u.startswith("各") else (lead if j == 0 else sup)).append(u)
            loc += split_top(tail, "、，,；;")
    return lead, sup, loc, ldr


MARKERS = ["{n}．", "{n}.", "{n}、", "（{n}）"]


def check(pid):
    txt = open(f"{D}/{pid}.txt", encoding="utf-8").read()
    raw = txt.split("\n")
    lines = [ln.strip(WS) for ln in raw]
    meta = json.load(open(f"{D}/{pid}.meta.json", encoding="utf-8"))
    st = json.load(open(f"{D}/{pid}.structure.json", encoding="utf-8"))
    for k in ["id", "title", "issuer", "region", "year", "domain", "style", "fictional"]:
        if k not in meta:
            err(pid, f"meta missing {k}")
    if meta["id"] != pid or meta["fictional"] is not True:
        err(pid, "meta id/fictional")
    if meta["title"] != st["title"]:
        err(pid, "title mismatch")
    cls = {}

    def claim(i, kind):
        if i in cls:
            err(pid, f"line {i + 1} claimed twice: {cls[i]} and {kind}")
        cls[i] = kind

    # title
    ti = [i for i, ln in enumerate(lines) if ln == st["title"]]
    if len(ti) != 1:
        err(pid, f"title line count {len(ti)}")
    else:
        claim(ti[0], "title")
    # dropped lines verbatim (full raw line)
    for d in st["dropped_lines"]:
        idx = [i for i, ln in enumerate(raw) if ln == d]
        if not idx:
            err(pid, f"dropped line not verbatim in text: {d}")
        for i in idx:
            claim(i, "drop")
    for kind in ("preamble", "trailing_lines", "subsection_headings"):
        for p in st[kind]:
            idx = [i for i, ln in enumerate(lines) if ln == p]
            if len(idx) != 1:
                err(pid, f"{kind} line count {len(idx)}: {p[:30]}")
            for i in idx:
                claim(i, kind)
    # sections
    sec_line = {}
    for s in st["sections"]:
        idx = [i for i, ln in enumerate(lines) if ln == f"{s['numeral']}、{s['title']}"]
        if len(idx) != 1:
            err(pid, f"section line count {len(idx)}: {s}")
        else:
            claim(idx[0], "section")
            sec_line[s["number"]] = idx[0]
    if [s["number"] for s in st["sections"]] != list(range(1, len(st["sections"]) + 1)):
        err(pid, "section numbers")
    # tasks
    refs = [t["ref"] for t in st["tasks"]]
    if len(set(refs)) != len(refs):
        err(pid, "duplicate refs")
    fmt = None
    for f in MARKERS:
        t0 = st["tasks"][0]
        if any(ln.startswith(f.format(n=t0["number"]) + t0["title"] + "。") for ln in lines):
            fmt = f
    if not fmt:
        err(pid, "cannot find numbering marker")
        return None
    last = -1
    task_text = {}
    for t in st["tasks"]:
        exp_ref = str(t["number"]) if st["numbering"] == "continuous" else f"{t['section']}-{t['number']}"
        if t["ref"] != exp_ref:
            err(pid, f"ref {t['ref']} != {exp_ref}")
        pre = fmt.format(n=t["number"]) + t["title"] + "。"
        idx = [i for i, ln in enumerate(lines) if ln.startswith(pre)]
        if len(idx) != 1:
            err(pid, f"task {t['ref']} line count {len(idx)}")
            continue
        i = idx[0]
        claim(i, "task")
        if i < last:
            err(pid, f"task {t['ref']} out of order")
        last = i
        # section by position
        secn = max([n for n, li in sec_line.items() if li < i], default=None)
        if secn != t["section"]:
            err(pid, f"task {t['ref']} section {t['section']} but positioned in {secn}")
        if "。" in t["title"]:
            err(pid, "title contains 。")
        line = lines[i]
        body = line[len(fmt.format(n=t["number"])) :]
        if body.split("。")[0] != t["title"]:
            err(pid, f"title != text before first 。 for {t['ref']}")
        nxt = i + 1
        note_own = nxt < len(lines) and lines[nxt] == t["note"] and t["note"]
        if t["note"]:
            if line.endswith(t["note"]):
                pass
            elif note_own:
                claim(nxt, "note")
            else:
                err(pid, f"note of {t['ref']} not found after task")
            r = roles(t["note"])
            got = (t["lead"], t["support"], t["local"], t["leaders"])
            if list(r) != list(got):
                err(pid, f"roles {t['ref']}: rule {r} vs declared {got}")
        else:
            if any(t[k] for k in ("lead", "support", "local", "leaders")):
                err(pid, f"units without note {t['ref']}")
            if KEY_RE.search(line[-60:]):
                err(pid, f"task {t['ref']} looks like it has a note")
            if nxt < len(lines) and KEY_RE.search(lines[nxt][:6]):
                err(pid, f"task {t['ref']} followed by a note line")
        task_text[t["ref"]] = line
    # numbering
    if st["numbering"] == "continuous":
        nums = [t["number"] for t in st["tasks"]]
        full = list(range(1, max(nums) + 1))
        gaps = [n for n in full if n not in nums]
        if gaps != st["missing_tasks"]:
            err(pid, f"gaps {gaps} != missing {st['missing_tasks']}")
        if nums != sorted(nums):
            err(pid, "numbers not ascending")
    else:
        for s in st["sections"]:
            ns = [t["number"] for t in st["tasks"] if t["section"] == s["number"]]
            if ns != list(range(1, len(ns) + 1)):
                err(pid, f"section {s['number']} numbers {ns}")
        if st["missing_tasks"]:
            err(pid, "missing in per-section plan")
    # every non-blank line classified
    for i, ln in enumerate(lines):
        if ln and i not in cls:
            err(pid, f"unclassified line {i + 1}: {ln[:40]}")
        if not ln and raw[i] != "":
            err(pid, f"whitespace-only line {i + 1}")
    # gold
    tasks = {t["ref"]: t for t in st["tasks"]}
    gold = [json.loads(ln) for ln in open(f"{D}/{pid}.gold.jsonl", encoding="utf-8")]
    if not 20 <= len(gold) <= 30:
        err(pid, f"{len(gold)} gold questions")
    ids = [g["id"] for g in gold]
    if len(set(ids)) != len(ids):
        err(pid, "dup gold ids")
    cont = st["numbering"] == "continuous"
    for j, g in enumerate(gold):
        gid = g["id"]
        if not re.fullmatch(r"[a-z_]+-\d{3}", gid):
            err(pid, f"bad id {gid}")
        if g["split"] != ("dev" if j % 2 == 0 else "test"):
            err(pid, f"split {gid}")
        if g["category"] not in CATS:
            err(pid, f"cat {gid}")
        if g["kind"] not in KINDS:
            err(pid, f"kind {gid}")
        for r in g["gold_tasks"]:
            if cont and not isinstance(r, int):
                err(pid, f"{gid} ref type")
            if not cont and not isinstance(r, str):
                err(pid, f"{gid} ref type")
            if str(r) not in tasks:
                err(pid, f"{gid} ref {r} not in structure")
        gt = [tasks[str(r)] for r in g["gold_tasks"] if str(r) in tasks]
        text_of = " ".join(task_text.get(t["ref"], "") + t["note"] for t in gt)
        if g["kind"] == "who" and not g["refuse"]:
            t = gt[0]
            if g["gold_units"] != t["lead"] + t["support"] + t["local"]:
                err(pid, f"{gid} gold_units")
            if g["lead_unit"] != g["gold_units"][0]:
                err(pid, f"{gid} lead_unit")
        if g["kind"] == "who" and g["refuse"] and (g["gold_units"] or gt and gt[0]["note"]):
            err(pid, f"{gid} refused who with units")
        if g["category"] == "support":
            for u in g["must_contain"]:
                if u not in gt[0]["support"]:
                    err(pid, f"{gid} support unit {u}")
        if g["kind"] == "reverse" and not g["gold_units"] and not g["refuse"]:
            err(pid, f"{gid} reverse without its unit")
        if g["kind"] == "reverse" and g["gold_units"]:  # a refused one may name a unit the plan lacks: none to check
            u = g["gold_units"][0]
            exp = [t["ref"] for t in st["tasks"] if u in t["lead"] + t["support"] + t["local"]]
            if [str(r) for r in g["gold_tasks"]] != exp:
                err(pid, f"{gid} reverse {g['gold_tasks']} != {exp}")
            if g["refuse"] != (not exp):
                err(pid, f"{gid} reverse refuse")
        if g["category"] == "task_absent" and (g["gold_tasks"] or not g["refuse"]):
            err(pid, f"{gid} absent")
        if g["category"] == "out_of_scope" and (g["gold_tasks"] or not g["refuse"]):
            err(pid, f"{gid} oos")
        if g["kind"] in ("fact", "task"):
            for m in g["must_contain"]:
                if m not in text_of:
                    err(pid, f"{gid} must_contain {m!r} not in gold task text")
        if g["kind"] == "section":
            for m in g["must_contain"]:
                if not any(m in s["title"] for s in st["sections"]) and m not in text_of:
                    err(pid, f"{gid} section must_contain {m}")
        if not g["refuse"] and not g["gold_tasks"]:
            err(pid, f"{gid} answerable without tasks")
    return len(st["tasks"]), Counter(g["category"] for g in gold), len(gold)


def check_yoy(path):
    """The year-over-year file: refs exist; 'same' tasks are identical apart from the number."""
    y = json.load(open(path, encoding="utf-8"))
    old = json.load(open(f"{D}/{y['old']}.structure.json", encoding="utf-8"))
    new = json.load(open(f"{D}/{y['new']}.structure.json", encoding="utf-8"))
    otext = [ln.strip(WS) for ln in open(f"{D}/{y['old']}.txt", encoding="utf-8")]
    ntext = [ln.strip(WS) for ln in open(f"{D}/{y['new']}.txt", encoding="utf-8")]
    ot = {t["number"]: t for t in old["tasks"]}
    nt = {t["number"]: t for t in new["tasks"]}
    seen_old, seen_new = set(), set()
    for c in y["changes"]:
        o, n = c["old_ref"], c["new_ref"]
        if o is not None:
            seen_old.add(o)
            if o not in ot:
                err("yoy", f"old ref {o} not in {y['old']}")
        if n is not None:
            seen_new.add(n)
            if n not in nt:
                err("yoy", f"new ref {n} not in {y['new']}")
        if "same" in c["kinds"] and o in ot and n in nt:

            def body(lines, t):
                return next(ln.split("．", 1)[1] for ln in lines if ln.startswith(f"{t['number']}．{t['title']}。"))

            if body(otext, ot[o]) != body(ntext, nt[n]):
                err("yoy", f"{o}->{n} marked same but text differs")
    if seen_old != set(ot) or seen_new != set(nt):
        err("yoy", "changes do not cover every task of both years")


def main():
    ids = sorted(os.path.basename(p)[:-4] for p in glob.glob(f"{D}/*.txt"))
    for pid in ids:
        r = check(pid)
        if r:
            print(pid, "tasks", r[0], "gold", r[2], dict(r[1]))
    for path in sorted(glob.glob(f"{D}/*.yoy-*.json")):
        check_yoy(path)
        print(os.path.basename(path), "checked")
    print("\n".join(errors) or "ALL OK")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
