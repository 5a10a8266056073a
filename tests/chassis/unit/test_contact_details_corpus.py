"""The contact-details rule over the whole corpus (tests/contact_details/): it must refuse at
least 98% of the evasions and at most 1% of the ordinary professional texts."""

from headstore.contact_details import scan_contact_details
from tests.contact_details import load

MIN_RECALL = 0.98
MAX_FALSE_REFUSAL_RATE = 0.01


def test_the_corpus_has_at_least_300_varied_texts_of_each_kind() -> None:
    evasions, legitimate = load("evasions"), load("legitimate")
    assert len(evasions) >= 300 and len(legitimate) >= 300
    assert len({sample.technique for sample in evasions}) >= 10
    assert len({sample.text for sample in evasions}) == len(evasions), "duplicate evasions"
    assert len({sample.text for sample in legitimate}) == len(legitimate), "duplicate texts"


def test_at_least_98_percent_of_the_evasions_are_refused() -> None:
    evasions = load("evasions")
    missed = [sample for sample in evasions if not scan_contact_details(sample.text)]
    recall = 1 - len(missed) / len(evasions)
    assert recall >= MIN_RECALL, "missed:\n" + "\n".join(
        f"evasions.txt:{sample.line} [{sample.technique}] {sample.text!r}" for sample in missed
    )


def test_at_most_1_percent_of_ordinary_texts_are_refused() -> None:
    legitimate = load("legitimate")
    refused = [
        (sample, scan_contact_details(sample.text))
        for sample in legitimate
        if scan_contact_details(sample.text)
    ]
    rate = len(refused) / len(legitimate)
    assert rate <= MAX_FALSE_REFUSAL_RATE, "refused:\n" + "\n".join(
        f"legitimate.txt:{sample.line} {sample.text!r}: {', '.join(map(str, details))}"
        for sample, details in refused
    )
