"""How sparkpg's JVM data sources take a connection: the pgjdbc URL under ``url`` and each pgjdbc
connection property under ``property.<name>`` (``jvm/README.md``). Keys that contain "password"
match Spark's ``spark.redaction.regex``, so plans and the UI show them redacted.

This module imports on Python 3.9 without pyspark.
"""

from __future__ import annotations

from typing import Dict, Mapping

PROPERTY_PREFIX = "property."


def connection_options(url: str, properties: Mapping[str, str]) -> Dict[str, str]:
    """The engine options of one connection (PASSWORD INCLUDED: never log them).

    >>> connection_options("jdbc:postgresql://h/db", {"user": "u"})
    {'url': 'jdbc:postgresql://h/db', 'property.user': 'u'}
    """
    options = {"url": url}
    options.update((PROPERTY_PREFIX + key, value) for key, value in properties.items())
    return options
