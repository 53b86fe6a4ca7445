"""Provider contracts (``contracts/README.md``): the files, matchers, static checks and breaks.

- :mod:`app.contracts.model`: :func:`load_contract` / :func:`parse_contract` → :class:`Contract`,
  or :class:`ContractFileError` with every problem (JSON pointer + sentence);
- :mod:`app.contracts.matchers`: :func:`match_json`, :func:`match_header`, :func:`match_xml`
  (defusedxml), :func:`example_of`;
- :mod:`app.contracts.static`: :func:`check_contract` against the provider's OpenAPI document;
- :mod:`app.contracts.breaks`: :func:`find_breaks` between two versions of that document.

Pure: no network, no database.
"""

from app.contracts.breaks import Break, find_breaks
from app.contracts.matchers import (
    Mismatch,
    example_of,
    is_matcher,
    match_header,
    match_json,
    match_xml,
)
from app.contracts.model import (
    Contract,
    ContractFileError,
    ContractProblem,
    Interaction,
    ProviderState,
    RequestSpec,
    ResponseSpec,
    load_contract,
    parse_contract,
)
from app.contracts.static import StaticProblem, check_contract, resolve_operation

__all__ = [
    "Break",
    "Contract",
    "ContractFileError",
    "ContractProblem",
    "Interaction",
    "Mismatch",
    "ProviderState",
    "RequestSpec",
    "ResponseSpec",
    "StaticProblem",
    "check_contract",
    "example_of",
    "find_breaks",
    "is_matcher",
    "load_contract",
    "match_header",
    "match_json",
    "match_xml",
    "parse_contract",
    "resolve_operation",
]
