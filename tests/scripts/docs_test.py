#!/usr/bin/env python3
"""The front door and the docs hold together: README.md is at most 250 lines, every relative
link in README.md and docs/ (section anchors included) leads somewhere, and every
bench/results/ path they name exists.   docs_test.py REPO_ROOT"""
import glob
import os
import re
import sys

root = sys.argv[1]
pages = [os.path.join(root, "README.md")] + sorted(glob.glob(os.path.join(root, "docs", "**", "*.md"), recursive=True))
problems = []


def slug(heading):  # GitHub's anchor for a heading
    heading = re.sub(r"[^\w\- ]", "", heading.replace("`", "").strip().lower())
    return heading.replace(" ", "-")


def anchors(path):
    found, seen, fenced = set(), {}, False
    for line in open(path, encoding="utf-8"):
        if line.startswith("```"):
            fenced = not fenced
        m = None if fenced else re.match(r"^#{1,6}\s+(.*)", line)
        if m:
            s = slug(m.group(1))
            n = seen.get(s, 0)
            seen[s] = n + 1
            found.add(s if n == 0 else f"{s}-{n}")
    return found


readme_lines = sum(1 for _ in open(pages[0], encoding="utf-8"))
if readme_lines > 250:
    problems.append(f"README.md: {readme_lines} lines, more than 250: move detail into docs/")
links = 0
for page in pages:
    name = os.path.relpath(page, root)
    text = re.sub(r"```.*?```", "", open(page, encoding="utf-8").read(), flags=re.S)
    for target in re.findall(r"\[[^\]]*\]\(([^)\s]+)\)", text):
        if re.match(r"^[a-z]+:", target):
            continue
        links += 1
        path, _, anchor = target.partition("#")
        dest = os.path.normpath(os.path.join(os.path.dirname(page), path)) if path else page
        if not os.path.exists(dest):
            problems.append(f"{name}: link to {target}, which does not exist")
        elif anchor and (not dest.endswith(".md") or anchor not in anchors(dest)):
            problems.append(f"{name}: link to {target}: no such section")
    for path in re.findall(r"bench/results/[\w./*-]*[\w/*]", text):
        if not glob.glob(os.path.join(root, path)):
            problems.append(f"{name}: names {path}, which does not exist")
for p in problems:
    print(p)
if problems:
    sys.exit(1)
print(f"ok: README {readme_lines} lines; {links} links in {len(pages)} pages lead somewhere")
