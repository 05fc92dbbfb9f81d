"""The threat types registration-abuse analytics keeps apart, and how feeds' own words map onto them.

Spam is kept as a type of its own (DAAR was criticised for adding it to security threats). A feed's word
that names none of the four is not guessed at: the reader counts the line as an unknown threat.
"""

from __future__ import annotations

from typing import Final, Literal

Threat = Literal["phishing", "malware", "botnet_cc", "spam"]
THREATS: Final[tuple[Threat, ...]] = ("phishing", "malware", "botnet_cc", "spam")

_SYNONYMS: Final[dict[str, Threat]] = {
    "phishing": "phishing",
    "phish": "phishing",
    "credential_phishing": "phishing",
    "malware": "malware",
    "malware_download": "malware",  # URLhaus
    "malware_distribution": "malware",
    "payload_delivery": "malware",
    "ransomware": "malware",
    "botnet_cc": "botnet_cc",
    "botnet": "botnet_cc",
    "c2": "botnet_cc",
    "cc": "botnet_cc",
    "cnc": "botnet_cc",
    "c&c": "botnet_cc",
    "command_and_control": "botnet_cc",
    "spam": "spam",
}

DBL_CODES: Final[dict[int, tuple[Threat, bool]]] = {
    2: ("spam", False),
    4: ("phishing", False),
    5: ("malware", False),
    6: ("botnet_cc", False),
    102: ("spam", True),
    103: ("spam", True),  # abused legitimate spammed redirector
    104: ("phishing", True),
    105: ("malware", True),
    106: ("botnet_cc", True),
}
"""Spamhaus DBL return codes 127.0.1.N: N to (threat, listed as an abused legitimate domain)."""


def normalise_threat(text: str) -> Threat | None:
    """The threat type a feed's word names (case, spaces and hyphens ignored), None when it names none."""
    key = text.strip().lower().replace(" ", "_").replace("-", "_")
    return _SYNONYMS.get(key)
