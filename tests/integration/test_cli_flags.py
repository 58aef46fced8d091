"""test_cli_flags.py -- README.md's table of `chorus serve` flags says what
the real binary's `chorus serve --help` says: the same flags in the same
order, each with the same argument, default and meaning (README's Markdown
backticks and escaped pipes aside). Both come from one table
(server/cli/flags.c); tests/test_srv_cli_flags.c checks README against the
table itself, this checks it against what a user of the binary sees, and
that every flag the table lists is one the parser takes."""
import os
import re
import subprocess
import tempfile

from chorus_test import BIN, ROOT, run


def chorus(*args):
    p = subprocess.run([BIN] + list(args), capture_output=True, text=True, timeout=10)
    return p.returncode, p.stdout, p.stderr


def help_entries():
    """[(flag, arg, default, meaning)] from `chorus serve --help`."""
    rc, out, err = chorus("serve", "--help")
    assert rc == 0, err
    entries = []
    for line in out.splitlines()[2:]:
        if line.startswith("  --"):
            m = re.match(r"  (--\S+) (\S+)(?: +(.*))?$", line)
            assert m, line
            entries.append([m.group(1), m.group(2), m.group(3) or ""])
        else:
            assert line.startswith(" " * 23) and entries, repr(line)
            entries[-1][2] = (entries[-1][2] + " " + line.strip()).strip()
    result = []
    for flag, arg, text in entries:
        m = re.match(r"(.*) \(default: (.*)\)$", text)
        assert m, (flag, text)
        result.append((flag, arg, m.group(2), m.group(1)))
    return result


def plain(cell):
    return re.sub(r"\s+", " ", cell.replace("`", "").replace("\\|", "|")).strip()


def readme_entries():
    """[(flag, arg, default, meaning)] from README.md's flags table."""
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        text = f.read()
    start = text.index("| flag | default | meaning |\n")
    rows = text[start:].split("\n\n", 1)[0].splitlines()[2:]
    result = []
    for row in rows:
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", row)[1:-1]]
        assert len(cells) == 3, row
        flag, _, arg = plain(cells[0]).partition(" ")
        result.append((flag, arg, plain(cells[1]), plain(cells[2])))
    return result


def test_readme_table_says_what_serve_help_says():
    readme, helped = readme_entries(), help_entries()
    assert [e[0] for e in readme] == [e[0] for e in helped], (readme, helped)
    for r, h in zip(readme, helped):
        assert r == h, (r, h)
    assert len(readme) >= 23


def test_every_listed_flag_is_parsed():
    # a value out of range for every flag would need one per flag; an
    # unknown flag is refused with "unknown flag", a known one is not
    for flag, arg, _, _ in help_entries():
        rc, out, err = chorus("serve", flag)  # the value missing
        assert rc == 2 and "missing value: " + flag in err, (flag, err)
    rc, out, err = chorus("serve", "--port", "1", "--data", "/nonexistent/x/y",
                          "--web", tempfile.gettempdir())
    assert rc == 1 and "unknown flag" not in err, err


if __name__ == "__main__":
    run(globals())
