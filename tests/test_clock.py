"""The one time formatter (:func:`podcast.text.clock`) in each of its forms.

Each form is the one a caller printed before they shared it: chapters next to the show
notes (``M:SS``, ``H:MM:SS``), tag messages (with milliseconds), the master's messages
(always with hours) and transcript cues (WebVTT ``.``, SRT ``,``).  Expected strings are
written out by hand.
"""

from __future__ import annotations

import pytest

from podcast.text import clock


@pytest.mark.parametrize(("seconds", "options", "expected"), [
    (0, {}, "0:00"),
    (75.4, {}, "1:15"),  # cut, not rounded
    (59.999, {}, "0:59"),
    (3725, {}, "1:02:05"),
    (36000, {}, "10:00:00"),
    (75.4, {"hours": True}, "0:01:15"),
    (3725.9, {"hours": True}, "1:02:05"),
    (75, {"fraction": True}, "1:15"),
    (75.25, {"fraction": True}, "1:15.250"),
    (3725.5, {"fraction": True}, "1:02:05.500"),
    (75.4, {"mark": "."}, "01:15.400"),
    (75.4, {"mark": ",", "hours": True}, "00:01:15,400"),
    (3725.0004, {"mark": "."}, "01:02:05.000"),  # hours shown from an hour on
    (59.9996, {"mark": "."}, "01:00.000"),  # a cue rounds to the millisecond
    (-0.2, {"mark": ","}, "00:00,000"),
])
def test_each_form(seconds: float, options: dict, expected: str):
    assert clock(seconds, **options) == expected
