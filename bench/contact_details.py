"""The contact-details rule (`headstore.contact_details`) over its corpus: how many evasions it
refuses, how many ordinary professional texts it refuses by mistake, and how fast it reads.

The corpus is `tests/contact_details/`: `evasions.txt` (contact details hidden by spelling,
spacing, Unicode, number words, messenger handles, bare domains on many public suffixes…) and
`legitimate.txt` (versions, years, prices, ranges, identifiers, product and file names, prose
in several languages…). No servers are involved: one process, one core.

- `recall` = refused evasions / evasions (target ≥ 0.98);
- `false_refusal_rate` = refused ordinary texts / ordinary texts (target ≤ 0.01);
- `texts_per_s`: the whole corpus scanned BENCH_CONTACT_ROUNDS (5) times after the pass that
  counts (which also warms up: its first text loads the confusables table and the public
  suffix list), and `p50_ms` / `p99_ms` per text over those rounds; `numbers_2000_chars_ms`
  is the slowest input known, 2,000 characters of numbers;
- `by_technique`: recall per kind of evasion; `missed` and `false_refusals_found` list the
  texts themselves, so a change in the figures can be read, not only counted.
"""

from __future__ import annotations

import os
import random
import time
from collections import Counter
from typing import Any

from bench.baseline import machine, now_iso, percentile, rounded, write_result
from headstore.contact_details import scan_contact_details
from tests.contact_details import Sample, load

ROUNDS = int(os.environ.get("BENCH_CONTACT_ROUNDS", 5))
MIN_RECALL = 0.98
MAX_FALSE_REFUSAL_RATE = 0.01


def run() -> dict[str, Any]:
    evasions, legitimate = load("evasions"), load("legitimate")
    missed = [sample for sample in evasions if not scan_contact_details(sample.text)]
    false_refusals = [
        (sample, scan_contact_details(sample.text))
        for sample in legitimate
        if scan_contact_details(sample.text)
    ]
    refused = len(evasions) - len(missed)
    recall = refused / len(evasions)
    false_refusal_rate = len(false_refusals) / len(legitimate)

    texts = [sample.text for sample in evasions + legitimate]
    timings = []
    started = time.perf_counter()
    for _ in range(ROUNDS):
        for text in texts:
            before = time.perf_counter()
            scan_contact_details(text)
            timings.append(time.perf_counter() - before)
    seconds = time.perf_counter() - started

    # The slowest input found: the longest text a field takes (an application answer, 2,000
    # characters) made only of numbers, which every region's phone matcher has to read.
    numbers = random.Random(8).choices(range(100_000), k=400)
    worst = " ".join(map(str, numbers))[:2000]
    before = time.perf_counter()
    scan_contact_details(worst)
    worst_case_ms = (time.perf_counter() - before) * 1000

    result: dict[str, Any] = {
        "benchmark": "contact_details",
        "timestamp": now_iso(),
        "evasions": len(evasions),
        "refused": refused,
        "recall": rounded(recall),
        "legitimate": len(legitimate),
        "false_refusals": len(false_refusals),
        "false_refusal_rate": rounded(false_refusal_rate),
        "texts_per_s": round(len(timings) / seconds),
        "chars_per_s": round(sum(map(len, texts)) * ROUNDS / seconds),
        "p50_ms": rounded(percentile(timings, 0.5) * 1000, 3),
        "p99_ms": rounded(percentile(timings, 0.99) * 1000, 3),
        "numbers_2000_chars_ms": rounded(worst_case_ms, 1),
        "rounds": ROUNDS,
        "by_technique": _by_technique(evasions, missed),
        "missed": [_where(sample) for sample in missed],
        "false_refusals_found": [
            f"{_where(sample)}: {', '.join(map(str, details))}"
            for sample, details in false_refusals
        ],
        "targets": {"recall": MIN_RECALL, "false_refusal_rate": MAX_FALSE_REFUSAL_RATE},
        "ok": recall >= MIN_RECALL and false_refusal_rate <= MAX_FALSE_REFUSAL_RATE,
        "machine": machine(servers=False),
    }
    write_result("contact_details", result)
    return result


def _by_technique(evasions: list[Sample], missed: list[Sample]) -> dict[str, dict[str, Any]]:
    total = Counter(sample.technique for sample in evasions)
    lost = Counter(sample.technique for sample in missed)
    return {
        technique: {"evasions": count, "recall": rounded(1 - lost[technique] / count)}
        for technique, count in sorted(total.items())
    }


def _where(sample: Sample) -> str:
    return f"line {sample.line} [{sample.technique}] {sample.text!r}"
