"""How S3 says "no such object", for callers that may lack ``s3:ListBucket``.

Without ``s3:ListBucket`` on the bucket, S3 answers HeadObject and GetObject on a missing key with
403 (HeadObject: no body, code ``403``; GetObject: ``AccessDenied``), not 404 (S3 API reference,
HeadObject and GetObject, "Permissions"). A least-privilege caller therefore cannot tell "missing"
from "not allowed": :func:`absence` says which of the two it may be.
"""

from __future__ import annotations

from typing import Optional

from connectors.aws import error_code

#: Error codes of a key that does not exist.
MISSING_CODES = frozenset({"NoSuchKey", "404", "NotFound", "NoSuchBucket"})

#: Error codes of a key that is missing *or* not visible to the caller.
HIDDEN_CODES = frozenset({"AccessDenied", "403", "Forbidden"})


def absence(exc: BaseException) -> Optional[str]:
    """``"missing"``, ``"missing-or-hidden"`` (403), or None for any other error."""
    code = error_code(exc)
    if code in MISSING_CODES:
        return "missing"
    if code in HIDDEN_CODES:
        return "missing-or-hidden"
    return None
