"""The one base of every user error in the toolkit (shared infrastructure, so every stage can use it).

A `ToolkitError` is a problem with what the user gave: an option, a file, a folder, an image. It
lists every problem found at once; every CLI prints it as one line on stderr and exits 2
(`_infra.cli.run_cli`). Anything else is a bug and raises with its traceback."""
from __future__ import annotations



class ToolkitError(ValueError):
    """Bad input to the toolkit; `problems` lists each one, the message joins them."""

    def __init__(self, *problems: str):
        self.problems = [str(p) for p in problems]
        super().__init__("; ".join(self.problems))


def first_line(e: BaseException, limit: int = 300) -> str:
    """An exception's first non-empty line, shortened (its type name when it has no message)."""
    lines = [line.strip() for line in str(e).splitlines() if line.strip()]
    return lines[0][:limit] if lines else type(e).__name__

