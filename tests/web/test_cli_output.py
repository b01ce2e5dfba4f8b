"""What the client verbs print: server text is shown, never obeyed by the terminal."""

from __future__ import annotations

from osci.cli.client import safe, safe_log_line


def test_safe_turns_control_characters_into_question_marks() -> None:
    assert safe("org/app") == "org/app"
    assert safe(None) == "-"
    assert safe("a\x1b[2Jb\x07c\x9bd") == "a?[2Jb?c?d"
    assert safe("two\nlines\tand tab") == "two lines and tab"


def test_log_lines_keep_colours_only_on_a_terminal() -> None:
    line = "\x1b[31mred\x1b[0m \x1b]0;title\x07\x1b[2Jplain\x00"
    assert safe_log_line(line, keep_colour=True) == "\x1b[31mred\x1b[0m plain"
    assert safe_log_line(line, keep_colour=False) == "red plain"
    assert safe_log_line("tab\there", keep_colour=False) == "tab\there"
