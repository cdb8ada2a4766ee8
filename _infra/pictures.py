"""Names as pictures and tables show them, and the one matplotlib setup every picture uses: a name
(file name, label) is data, never markup or a control sequence."""
from __future__ import annotations


TITLE_CHARS = 100  # a title longer than this keeps its start and end around an ellipsis
TICK_CHARS = 32  # tick labels and legend entries (class names, method names)


def printable(text, limit: int | None = None) -> str:
    """Any name (file names, labels) as readable text: bytes that are not UTF-8 (a str with
    surrogate escapes, as Linux file names arrive) as `\\xff`, newlines and other control characters
    as escapes, and, beyond `limit` characters, its start and end around an ellipsis."""
    text = str(text)
    try:
        text = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # lone surrogates that no file name decoding made
        text = text.encode("utf-8", "surrogatepass").decode("utf-8", "backslashreplace")
    text = "".join(c if c.isprintable() or c == " " else repr(c)[1:-1] for c in text)
    if limit is not None and len(text) > limit:
        head = (limit - 1) // 2
        text = text[:head] + "…" + text[len(text) - (limit - 1 - head):]
    return text


def plot_text(text, limit: int | None = TITLE_CHARS) -> str:
    """`printable` text that matplotlib draws as it is: every `$` escaped, so no name is ever read
    as mathtext (an image named `a_$x^$.png` would otherwise raise and stop the batch)."""
    return printable(text, limit).replace("$", r"\$")


def pyplot():
    """matplotlib.pyplot on the file-only Agg backend (for every picture of the toolkit, bench's too)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
