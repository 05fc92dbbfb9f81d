"""The one settings table, read by the CLI, the API and the docs.

Each setting has a name, a default, an environment variable and a help text; nothing else in the code
invents a default. A test fails when a setting is not documented in the README.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from dnsvigil.errors import UsageError


@dataclass(frozen=True, slots=True)
class Setting:
    """One tunable value: its name, default, environment variable and what it does."""

    name: str
    default: str
    env: str
    help: str

    def read(self, override: str | None = None) -> str:
        """The value in force: an explicit override, else the environment, else the default."""
        if override is not None:
            return override
        return os.environ.get(self.env, self.default)


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "home",
        "./dnsvigil-data",
        "DNSVIGIL_HOME",
        "Warehouse directory: Parquet tables and their catalog.",
    ),
    Setting(
        "web_host",
        "127.0.0.1",
        "DNSVIGIL_WEB_HOST",
        "Address `dnsvigil serve` listens on; the default keeps the web app to this machine.",
    ),
    Setting(
        "web_port",
        "8000",
        "DNSVIGIL_WEB_PORT",
        "TCP port `dnsvigil serve` listens on.",
    ),
    Setting(
        "web_session_hours",
        "8",
        "DNSVIGIL_WEB_SESSION_HOURS",
        "Hours a web login session lasts before the user must log in again with their API token.",
    ),
    Setting(
        "dns_ports",
        "53",
        "DNSVIGIL_DNS_PORTS",
        "Comma-separated UDP/TCP ports whose traffic is read as DNS from captures.",
    ),
    Setting(
        "chunk_mib",
        "8",
        "DNSVIGIL_CHUNK_MIB",
        "Capture bytes decoded per batch; bounds ingest memory whatever the file size.",
    ),
    Setting(
        "query_memory_limit",
        "",
        "DNSVIGIL_QUERY_MEMORY_LIMIT",
        "Most memory the query engine (DuckDB) may hold, such as `8GB`; beyond it, it spills to a `.tmp` "
        "folder in the working directory. Empty: DuckDB's own default, 80 % of the machine's memory.",
    ),
    Setting(
        "traffic_window_seconds",
        "60",
        "DNSVIGIL_TRAFFIC_WINDOW_SECONDS",
        "Width of the time windows, aligned to the epoch, that the traffic detectors count in (seconds).",
    ),
    Setting(
        "traffic_baseline_mad_k",
        "6",
        "DNSVIGIL_TRAFFIC_BASELINE_MAD_K",
        "Scaled MADs above the baseline median a query rate or NXDOMAIN share must lie (flood, surge).",
    ),
    Setting(
        "random_subdomain_min_qps",
        "100",
        "DNSVIGIL_RANDOM_SUBDOMAIN_MIN_QPS",
        "Lookups per second under one zone in a window before it can be a random-subdomain flood.",
    ),
    Setting(
        "random_subdomain_min_children",
        "50",
        "DNSVIGIL_RANDOM_SUBDOMAIN_MIN_CHILDREN",
        "Distinct child labels (estimated) under one zone in a window for a random-subdomain flood.",
    ),
    Setting(
        "random_subdomain_min_failure_share",
        "0.8",
        "DNSVIGIL_RANDOM_SUBDOMAIN_MIN_FAILURE_SHARE",
        "Share of a zone's responses in a window that are NXDOMAIN or SERVFAIL in a random-subdomain flood.",
    ),
    Setting(
        "random_subdomain_max_queries_per_child",
        "2",
        "DNSVIGIL_RANDOM_SUBDOMAIN_MAX_QUERIES_PER_CHILD",
        "Most lookups per distinct child label in a random-subdomain flood (its labels never repeat).",
    ),
    Setting(
        "amplification_min_responses",
        "100",
        "DNSVIGIL_AMPLIFICATION_MIN_RESPONSES",
        "UDP responses sent to one address in a window before it can be an amplification victim.",
    ),
    Setting(
        "amplification_min_factor",
        "10",
        "DNSVIGIL_AMPLIFICATION_MIN_FACTOR",
        "Mean response size over mean query size for an address to be an amplification victim.",
    ),
    Setting(
        "query_flood_min_qps",
        "100",
        "DNSVIGIL_QUERY_FLOOD_MIN_QPS",
        "Queries per second a source or /24 or /56 network must reach in a window to be a query flood.",
    ),
    Setting(
        "nxdomain_surge_min_responses",
        "50",
        "DNSVIGIL_NXDOMAIN_SURGE_MIN_RESPONSES",
        "Responses about one zone a window must hold to be judged an NXDOMAIN surge.",
    ),
    Setting(
        "nxdomain_surge_min_rise",
        "0.3",
        "DNSVIGIL_NXDOMAIN_SURGE_MIN_RISE",
        "Rise of a zone's NXDOMAIN share above its baseline median for an NXDOMAIN surge (0..1).",
    ),
    Setting(
        "nxdomain_surge_min_baseline_windows",
        "3",
        "DNSVIGIL_NXDOMAIN_SURGE_MIN_BASELINE_WINDOWS",
        "Windows with at least 10 responses a zone needs for its NXDOMAIN baseline; fewer, it is not judged.",
    ),
    Setting(
        "watch_batch_messages",
        "100000",
        "DNSVIGIL_WATCH_BATCH_MESSAGES",
        "Most DNS messages `dnsvigil watch` gathers before storing them in the warehouse as one commit "
        "(each commit costs a file: fewer, larger ones keep up with a busy server).",
    ),
    Setting(
        "watch_batch_seconds",
        "5",
        "DNSVIGIL_WATCH_BATCH_SECONDS",
        "Longest time (seconds) `dnsvigil watch` holds received messages before storing them; the traffic "
        "detectors run at most this often.",
    ),
    Setting(
        "watch_queue_messages",
        "400000",
        "DNSVIGIL_WATCH_QUEUE_MESSAGES",
        "DNS messages `dnsvigil watch dnstap` holds between receiving and storing; input beyond it is "
        "dropped and counted.",
    ),
    Setting(
        "watch_nice",
        "10",
        "DNSVIGIL_WATCH_NICE",
        "Niceness `dnsvigil watch` adds to its own process at start (0-19): a watcher beside a name server "
        "must not take the CPU the server needs, or the server drops queries and dnstap messages; 0 keeps "
        "the priority it was started with.",
    ),
    Setting(
        "watch_settle_seconds",
        "10",
        "DNSVIGIL_WATCH_SETTLE_SECONDS",
        "Seconds a capture file must stop growing before `dnsvigil watch pcap` reads it (a newer file in "
        "the directory ends it sooner).",
    ),
    Setting(
        "watch_detection_window_seconds",
        "600",
        "DNSVIGIL_WATCH_DETECTION_WINDOW_SECONDS",
        "Span of the most recent stored traffic (seconds) the traffic detectors read on each run of "
        "`dnsvigil watch`.",
    ),
    Setting(
        "dga_min_names",
        "8",
        "DNSVIGIL_DGA_MIN_NAMES",
        "Distinct DGA-scored domains a client must ask for before `dga detect` calls it infected.",
    ),
    Setting(
        "dga_min_nxdomain_share",
        "0.5",
        "DNSVIGIL_DGA_MIN_NXDOMAIN_SHARE",
        "Share of an infected client's answered DGA-scored queries that must be NXDOMAIN (0..1).",
    ),
    Setting(
        "dga_min_family_share",
        "0.8",
        "DNSVIGIL_DGA_MIN_FAMILY_SHARE",
        "Share of a client's NXDOMAIN domains that one group (a DGA family or a shared stem) must hold.",
    ),
    Setting(
        "dga_model",
        "",
        "DNSVIGIL_DGA_MODEL",
        "DGA model file written by `dga train`; empty for the model shipped with dnsvigil.",
    ),
    Setting(
        "dga_data",
        "../shared/data",
        "DNSVIGIL_DGA_DATA",
        "Folder of labelled names for `dga train` and `dga eval` (dga/dga_domains.csv and benign/).",
    ),
    Setting(
        "abuse_min_population",
        "1000",
        "DNSVIGIL_ABUSE_MIN_POPULATION",
        "Smallest denominator (domains) for an abuse rate to be ranked; smaller registrars and TLDs are "
        "listed but not ranked.",
    ),
    Setting(
        "abuse_confidence",
        "0.95",
        "DNSVIGIL_ABUSE_CONFIDENCE",
        "Confidence level of abuse-rate intervals (Wilson for proportions, exact Poisson per domains under "
        "management).",
    ),
    Setting(
        "abuse_alpha",
        "0.01",
        "DNSVIGIL_ABUSE_ALPHA",
        "Significance level per month of the ABUSE.DISPROPORTIONATE test (one-sided binomial) and the "
        "ABUSE.REGISTRAR_SHIFT / TLD_SHIFT tests (two-sided Fisher exact), Bonferroni over those tested.",
    ),
    Setting(
        "abuse_min_malicious",
        "10",
        "DNSVIGIL_ABUSE_MIN_MALICIOUS",
        "Malicious registrations a registrar needs in a month before ABUSE.DISPROPORTIONATE tests it, and "
        "a registrar or TLD needs in two consecutive months before the shift tests test it.",
    ),
    Setting(
        "abuse_min_ratio",
        "3",
        "DNSVIGIL_ABUSE_MIN_RATIO",
        "How many times its share of domains under management a registrar's share of malicious "
        "registrations must reach for ABUSE.DISPROPORTIONATE.",
    ),
    Setting(
        "abuse_min_share_change",
        "0.1",
        "DNSVIGIL_ABUSE_MIN_SHARE_CHANGE",
        "Smallest month-to-month change of a registrar's or TLD's share of malicious registrations (0-1) "
        "reported as ABUSE.REGISTRAR_SHIFT / TLD_SHIFT.",
    ),
)

_BY_NAME = {setting.name: setting for setting in SETTINGS}


def find_setting(name: str) -> Setting:
    """The setting called `name`; raise when there is none."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise UsageError(f"unknown setting {name!r}", hint=f"known: {', '.join(_BY_NAME)}") from None


def resolve_home(option: str | None) -> Path:
    """The warehouse directory: `--home`, else `$DNSVIGIL_HOME`, else `./dnsvigil-data`.

    An explicit option wins over the environment, as in every mature command-line tool, so that one
    command can point elsewhere without unsetting a variable.
    """
    return Path(find_setting("home").read(option)).expanduser()


def read_int(name: str, override: str | None = None, *, minimum: int = 0) -> int:
    """A setting read as an integer no smaller than `minimum`, with an error that names it."""
    setting = find_setting(name)
    raw = setting.read(override)
    try:
        value = int(raw)
    except ValueError:
        raise UsageError(
            f"setting {name} ({setting.env}) must be an integer, got {raw!r}", hint=setting.help
        ) from None
    if value < minimum:
        raise UsageError(f"setting {name} ({setting.env}) must be >= {minimum}, got {value}")
    return value


def read_share(name: str, override: str | None = None) -> float:
    """A setting read as a share within [0, 1], with an error that names it."""
    setting = find_setting(name)
    raw = setting.read(override)
    try:
        value = float(raw)
    except ValueError:
        raise UsageError(
            f"setting {name} ({setting.env}) must be a number, got {raw!r}", hint=setting.help
        ) from None
    if not 0.0 <= value <= 1.0:
        raise UsageError(f"setting {name} ({setting.env}) must be within 0..1, got {value}")
    return value


def read_ports(override: str | None = None) -> tuple[int, ...]:
    """The DNS ports setting as a tuple of port numbers."""
    setting = find_setting("dns_ports")
    raw = setting.read(override)
    try:
        ports = tuple(int(part) for part in raw.split(",") if part.strip())
    except ValueError:
        raise UsageError(f"{setting.env} must list port numbers like '53,5353', got {raw!r}") from None
    if not ports or any(not 0 < port < 65536 for port in ports):
        raise UsageError(f"{setting.env} must list port numbers within 1..65535, got {raw!r}")
    return ports
