"""The mutation score per file, from the last `mutmut run` (`make mutation` calls this): writes
`benchmarks/results/mutation.json` in the results shape `{header: {columns, ...}, rows}`, which
docs/mutation.md renders (`python -m scripts.docs_tables`).

    python -m scripts.mutation_results            # after `mutmut run`, from the repository root
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from importlib.metadata import version
from pathlib import Path

from bench.scenarios import column, format_columns

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "mutation.json"
LINE = re.compile(r"^\s*(?P<module>[\w.]+?)\.x[_ǁ][^:]*: (?P<status>.+)$")  # "runtime.images.x_to_rgb__mutmut_3: killed"
STATUSES = ("killed", "survived", "timeout", "no tests")
COLUMNS = [column("file"), column("mutants"), *[column(s.replace(" ", "_"), s) for s in STATUSES], column("other"),
           column("score", "killed share", digits=3)]


def counts(results: str) -> dict[str, Counter]:
    """`mutmut results --all true` output -> module -> Counter of statuses (mutants not run left out)."""
    found: dict[str, Counter] = {}
    for line in results.splitlines():
        m = LINE.match(line)
        if m and m["status"] != "not checked":
            found.setdefault(m["module"], Counter())[m["status"]] += 1
    return found


def source_path(module: str) -> str:
    """'runtime.images' -> 'runtime/images.py'; a package's own code (mutmut names it by the
    package, 'xai.metrics') -> 'xai/metrics/__init__.py'."""
    path = module.replace(".", "/")
    return f"{path}/__init__.py" if (ROOT / path).is_dir() else f"{path}.py"


def rows(found: dict[str, Counter], scope: dict[str, str]) -> list[dict]:
    """One row per module: its file (and which part of it, `scope`), each status, the killed share."""
    out = []
    for module, c in found.items():
        total = sum(c.values())
        path = source_path(module)
        out.append({"file": f"{path} ({scope[module]})" if module in scope else path, "mutants": total,
                    **{s.replace(" ", "_"): c[s] for s in STATUSES},
                    "other": total - sum(c[s] for s in STATUSES), "score": c["killed"] / total})
    return out


def main() -> int:
    done = subprocess.run([str(Path(sys.executable).parent / "mutmut"), "results", "--all", "true"],
                          capture_output=True, text=True, cwd=ROOT, check=True)
    found = counts(done.stdout)
    if not found:
        print("no mutmut results: run `make mutation`", file=sys.stderr)
        return 2
    header = {"scenario": "mutation", "command": "make mutation", "columns": COLUMNS,
              "about": f"mutmut {version('mutmut')} against the tests [tool.mutmut] in pyproject.toml selects"}
    table = rows(found, {"bench.run": "heatmap_parity, quality",
                         "xai.evaluate": "score_method, differences, metric_rows, mark_sanity, result_rows"})
    OUT.write_text(json.dumps({"header": header, "rows": table}, indent=1) + "\n")
    print(format_columns(table, COLUMNS) + f"\n\nwrote {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
