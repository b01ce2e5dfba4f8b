"""Test result parsers: JUnit XML, subunit v2 and TAP, chosen by content, into `TestCase`s."""

from osci.executor.parsers.detect import ParseError, detect_format, parse_file

__all__ = ["ParseError", "detect_format", "parse_file"]
