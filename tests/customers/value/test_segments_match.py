"""The value engine's segments and the stored ones are one list: same codes, slugs, labels.

The run writes rfm's codes into CustomerValue.segment (models.Segment choices); pages
and the API turn them back into slugs and labels through models.Segment. Any drift
between the two lists would file customers under the wrong name.
"""

from customers.models import Segment
from customers.value.rfm import BY_CODE, BY_SLUG, SEGMENTS


def test_it_has_each_code_and_slug_once():
    assert len(BY_CODE) == len(SEGMENTS)
    assert len(BY_SLUG) == len(SEGMENTS)


def test_it_knows_every_engine_segment_as_a_stored_segment():
    stored = {(s.value, s.slug, s.label) for s in Segment}
    missing = [
        (s.code, s.slug, s.label) for s in SEGMENTS if (s.code, s.slug, s.label) not in stored
    ]
    assert missing == []


def test_it_knows_every_stored_segment_as_an_engine_segment():
    engine = {(s.code, s.slug, s.label) for s in SEGMENTS}
    missing = [
        (s.value, s.slug, s.label) for s in Segment if (s.value, s.slug, s.label) not in engine
    ]
    assert missing == []


def test_it_finds_each_engine_segment_by_its_slug_in_urls():
    for s in SEGMENTS:
        assert Segment.from_slug(s.slug) == s.code
