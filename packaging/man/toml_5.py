"""Writes the man page cairn.toml(5) from docs/configuration.md, the one
description of every configuration key (a unit test, tests/config, holds it
to the keys the config reader reads).

usage: toml_5.py docs/configuration.md VERSION OUTPUT

It knows the Markdown that file uses: headings, paragraphs, bullet lists,
fenced code, tables (a "key | default | meaning" table becomes one tagged
paragraph per key), inline code, bold and links."""
import os
import re
import sys
import time


# Characters outside ASCII as roff names them; any other as \[uXXXX].
SPECIAL = {"→": "\\(->", "←": "\\(<-", "≤": "\\(<=", "≥": "\\(>=", "—": "\\(em", "–": "\\(en",
           "…": "...", "×": "\\(mu", "’": "'", "“": "\\(lq", "”": "\\(rq"}


def ascii(text):
    return "".join(c if ord(c) < 128 else SPECIAL.get(c, "\\[u%04X]" % ord(c)) for c in text)


def inline(text):
    """Markdown inline text to roff."""
    text = text.replace("\\", "\\e")
    text = re.sub(r"\[([^\]]+)\]\([^)]+\)", r"\1", text)  # links: their text
    parts = re.split(r"(`[^`]*`)", text)
    out = []
    for part in parts:
        if part.startswith("`") and part.endswith("`") and len(part) > 1:
            out.append("\\fB" + dashes(part[1:-1]) + "\\fR")
        else:
            part = re.sub(r"\*\*([^*]+)\*\*", r"\\fB\1\\fR", part)
            out.append(dashes(part))
    return ascii("".join(out))


def dashes(text):
    # A '-' that starts an option word is a minus sign in roff.
    return re.sub(r"(^|(?<=[\s\[(|]))-(-?)", lambda m: "\\-" + ("\\-" if m.group(2) else ""), text)


def line_safe(text):
    return "\\&" + text if text.startswith((".", "'")) else text


def cells(row):
    return [c.strip() for c in row.strip().strip("|").split("|")]


def table(rows, out):
    header = [c.lower() for c in cells(rows[0])]
    for row in rows[2:]:
        c = cells(row)
        out.append(".TP")
        if header[:2] == ["key", "default"]:
            default = f" (default: {inline(c[1])})" if c[1] else ""
            out.append(line_safe(inline(c[0]) + default))
            out.append(line_safe(inline(" ".join(c[2:]))))
        else:
            out.append(line_safe(inline(c[0])))
            out.append(line_safe("\n.br\n".join(f"{h}: {inline(v)}" for h, v in zip(header[1:], c[1:]))))


def convert(markdown, version, date):
    out = [f'.TH CAIRN.TOML 5 "{date}" "cairn {version}" "File Formats"',
           ".nh", ".ad l",
           ".SH NAME", "cairn.toml \\- configuration of the cairn agent",
           ".SH SYNOPSIS", ".I /etc/cairn/*.toml",
           ".br", "\\fBcairn agent \\-\\-config\\fR \\fIFILE\\fR|\\fIDIR\\fR ...",
           ".SH DESCRIPTION"]
    lines = markdown.splitlines()
    i = 0
    paragraph = []

    def para():
        # A paragraph break, except where a heading already makes one.
        if not out[-1].startswith((".SH", ".SS", ".PP")):
            out.append(".PP")

    def flush():
        if paragraph:
            para()
            out.append(line_safe(inline(" ".join(paragraph))))
            paragraph.clear()

    while i < len(lines):
        text = lines[i]
        stripped = text.strip()
        if text.startswith("# "):
            i += 1
            continue
        if stripped.startswith("<!--"):  # a note to the file's editors
            while i < len(lines) and "-->" not in lines[i]:
                i += 1
            i += 1
            continue
        if text.startswith("## ") or text.startswith("### "):
            flush()
            raw = text.lstrip("#").strip()
            title = inline(raw).replace("\\fB", "").replace("\\fR", "")
            if text.startswith("### "):
                out.append(".SS " + title)
            else:  # a table's name (`[dns]`) keeps its case, as it is written in the file
                out.append(".SH " + (title if raw.startswith("`") else title.upper()))
        elif stripped.startswith("```"):
            flush()
            para()
            out.append(".RS 4")
            out.append(".nf")
            i += 1
            while i < len(lines) and not lines[i].strip().startswith("```"):
                out.append(line_safe(ascii(lines[i].replace("\\", "\\e"))))
                i += 1
            out.append(".fi")
            out.append(".RE")
        elif stripped.startswith("|"):
            flush()
            rows = []
            while i < len(lines) and lines[i].strip().startswith("|"):
                rows.append(lines[i])
                i += 1
            table(rows, out)
            continue
        elif stripped.startswith("- "):
            flush()
            item = [stripped[2:]]
            i += 1
            while i < len(lines) and lines[i].startswith("  ") and lines[i].strip():
                item.append(lines[i].strip())
                i += 1
            out.append(".IP \\(bu 2")
            out.append(line_safe(inline(" ".join(item))))
            continue
        elif not stripped:
            flush()
        else:
            paragraph.append(stripped)
        i += 1
    flush()
    out += [".SH FILES", ".TP", ".I /etc/cairn/cairn.toml",
            "The configuration of the packaged agent; every \\fI*.toml\\fR in \\fI/etc/cairn\\fR is read.",
            ".SH SEE ALSO", ".BR cairn (1)"]
    return "\n".join(out) + "\n"


def main():
    source, version, output = sys.argv[1:4]
    # The page's date: SOURCE_DATE_EPOCH (set by dpkg-buildpackage), so that
    # builds are reproducible, else the source's last change.
    epoch = int(os.environ.get("SOURCE_DATE_EPOCH", os.path.getmtime(source)))
    date = time.strftime("%Y-%m-%d", time.gmtime(epoch))
    with open(source, encoding="utf-8") as f:
        text = convert(f.read(), version, date)
    with open(output, "w", encoding="utf-8") as f:
        f.write(text)


if __name__ == "__main__":
    main()
