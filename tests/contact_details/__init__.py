"""The contact-details corpus: texts that hide contact details (`evasions.txt`) and ordinary
professional texts (`legitimate.txt`), read by the corpus test and by `python -m bench
contact_details`."""

from __future__ import annotations

import re
from pathlib import Path
from typing import NamedTuple

HERE = Path(__file__).parent
_LINE = re.compile(r"^\[(?P<technique>[\w-]+)\] (?P<text>.*)$")
_ESCAPE = re.compile(r"\\(?:u(?P<code>[0-9a-fA-F]{4})|x(?P<byte>[0-9a-fA-F]{2})|(?P<letter>[nt]))")


class Sample(NamedTuple):
    technique: str
    text: str
    line: int


def load(name: str) -> list[Sample]:
    """The samples of `evasions` or `legitimate`, escapes decoded."""
    samples = []
    path = HERE / f"{name}.txt"
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        match = _LINE.match(line)
        if not match:
            raise ValueError(f"{path.name}:{number}: not '[technique] text': {line!r}")
        samples.append(Sample(match["technique"], _unescaped(match["text"]), number))
    return samples


def _unescaped(text: str) -> str:
    def character(match: re.Match[str]) -> str:
        if match["letter"]:
            return {"n": "\n", "t": "\t"}[match["letter"]]
        return chr(int(match["code"] or match["byte"], 16))

    return _ESCAPE.sub(character, text)
