"""What the canonical alliance requests accept, as hypothesis strategies (the dialect tests build
requests from them): a Hunan division the gateway knows, a date from 1990 to 2099, printable
text."""

from __future__ import annotations

import unicodedata
from datetime import date

from hypothesis import strategies as st

from app.connectors.alliance.canonical import FIRST_YEAR, LAST_YEAR
from app.core.divisions import divisions

KNOWN_HUNAN = st.sampled_from(sorted(code for code in divisions() if code.startswith("43")))
REQUEST_DAYS = st.dates(date(FIRST_YEAR, 1, 1), date(LAST_YEAR, 12, 31))
REQUEST_TEXT = st.text(
    st.characters(
        exclude_categories=("Cc", "Cf", "Cs", "Co", "Cn"),
    ),
    min_size=1,
    max_size=100,
).filter(lambda text: all(unicodedata.category(c)[0] != "C" for c in text))
