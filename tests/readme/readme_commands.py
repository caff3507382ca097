#!/usr/bin/env python3
"""Checks README.md against the merx it documents.

For every command line in the README's code blocks (continuation lines joined):
  * `merx A B ... --opt` / `build/bin/merx ...`: each leading word that is a subcommand must be listed by
    `merx [A ...] --help`, and each `--opt` must appear in the help of the deepest subcommand;
  * `tools/NAME`: the script exists and is executable.
Every `docs/...` link must exist. Exit 1 with one line per problem.
"""
import os
import re
import shlex
import subprocess
import sys

readme, merx = sys.argv[1], sys.argv[2]
root = os.path.dirname(os.path.abspath(readme))
text = open(readme, encoding="utf-8").read()
problems = []
help_cache = {}


def help_of(words):
    key = tuple(words)
    if key not in help_cache:
        r = subprocess.run([merx, *words, "--help"], capture_output=True, text=True, timeout=60)
        help_cache[key] = r.stdout + r.stderr if r.returncode == 0 else None
    return help_cache[key]


def subcommands(help_text):
    """Names listed under 'Subcommands:' (CLI11's layout)."""
    names, inside = set(), False
    for line in help_text.splitlines():
        if line.strip().lower().startswith("subcommands"):
            inside = True
            continue
        if inside:
            m = re.match(r"^\s{2}(\S+)", line)
            if m:
                names.add(m.group(1))
            elif line.strip() and not line.startswith(" "):
                inside = False
    return names


blocks = re.findall(r"```(?:sh|bash|console)?\n(.*?)```", text, re.S)
lines = []
for block in blocks:
    joined = block.replace("\\\n", " ")
    for line in joined.splitlines():
        line = line.split(" #", 1)[0].strip()
        if line and not line.startswith("#"):
            lines.append(line)

checked = 0
for line in lines:
    for part in re.split(r"&&|\|\||;|\|", line):
        try:
            words = shlex.split(part.strip())
        except ValueError:
            continue
        # Environment assignments before the command.
        while words and re.match(r"^[A-Z_][A-Z0-9_]*=", words[0]):
            words = words[1:]
        if not words:
            continue
        cmd = words[0]
        if cmd.startswith("tools/"):
            path = os.path.join(root, cmd)
            if not (os.path.isfile(path) and os.access(path, os.X_OK)):
                problems.append(f"README: `{part.strip()}`: {cmd} is not an executable file")
            checked += 1
            continue
        if os.path.basename(cmd) != "merx":
            continue
        checked += 1
        path = []
        rest = words[1:]
        while rest and not rest[0].startswith("-"):
            h = help_of(path)
            if h is None:
                break
            subs = subcommands(h)
            if not subs:
                break  # a positional argument (a spec file, a CELL id, SQL)
            if rest[0] not in subs:
                problems.append(f"README: `{part.strip()}`: `{rest[0]}` is not a subcommand of "
                                f"`merx {' '.join(path)}` (has: {', '.join(sorted(subs))})")
                break
            path.append(rest.pop(0))
        h = help_of(path)
        if h is None:
            problems.append(f"README: `{part.strip()}`: `merx {' '.join(path)} --help` fails")
            continue
        for w in rest:
            if w.startswith("--"):
                opt = w.split("=", 1)[0]
                if not re.search(re.escape(opt) + r"\b", h):
                    problems.append(f"README: `{part.strip()}`: option {opt} is not in `merx {' '.join(path)} --help`")

for link in re.findall(r"\]\((docs/[^)#]+)", text):
    if not os.path.exists(os.path.join(root, link)):
        problems.append(f"README: link {link} does not exist")

if checked < 5:
    problems.append(f"README: only {checked} commands found; the extraction is broken")
for p in problems:
    print(p)
print(f"{checked} README commands checked, {len(problems)} problems")
sys.exit(1 if problems else 0)
