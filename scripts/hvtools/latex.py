"""LaTeX text from arbitrary strings: escaping and places to break long words."""

_ESC = {"\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "$": r"\$", "&": r"\&",
        "#": r"\#", "^": r"\textasciicircum{}", "_": r"\_", "%": r"\%",
        "~": r"\textasciitilde{}", "<": r"\textless{}", ">": r"\textgreater{}",
        "|": r"\textbar{}", "\u00b5": "u", "\u2013": "--", "\u2014": "---",
        "\u2018": "`", "\u2019": "'", "\u201c": "``", "\u201d": "''"}
# After these a long word (a path, a command line) may break across lines.
_BREAK_AFTER = set("/,=;:.-_")


def esc(text, breakable=False):
    out = []
    run = 0
    for ch in str(text):
        if ch in _ESC:
            out.append(_ESC[ch])
        elif ord(ch) < 32:
            out.append(" ")
        elif ord(ch) > 126:
            out.append("?")
        else:
            out.append(ch)
        run = 0 if ch == " " else run + 1
        if breakable and (ch in _BREAK_AFTER or run >= 24):
            out.append(r"\allowbreak{}")
            run = 0
    return "".join(out)


def tt(text):
    return r"\texttt{" + esc(text, breakable=True) + "}"
