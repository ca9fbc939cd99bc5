"""Intel TDX: the quote (`quote.py`), the PCK certificate's extensions (`pck.py`), Intel's
signed collateral (`collateral.py`) and the verification (`verify.py`)."""

from .quote import TdxQuote, parse_quote
from .verify import TdxVerified, verify_quote

__all__ = ["TdxQuote", "TdxVerified", "parse_quote", "verify_quote"]
