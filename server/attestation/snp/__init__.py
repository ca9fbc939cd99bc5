"""AMD SEV-SNP: the attestation report (`report.py`) and its verification (`verify.py`).

Spec: AMD "SEV Secure Nested Paging Firmware ABI Specification" (publication 56860), section
7.3 "Attestation" and table 23 "ATTESTATION_REPORT Structure"; the VCEK certificate and its
extensions: AMD "Versioned Chip Endorsement Key (VCEK) Certificate and KDS Interface
Specification" (publication 57230).
"""

from .report import SnpReport, TcbVersion, parse_report
from .verify import SnpRoots, SnpVerified, verify_report

__all__ = ["SnpReport", "SnpRoots", "SnpVerified", "TcbVersion", "parse_report", "verify_report"]
