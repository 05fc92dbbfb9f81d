"""Find DGA activity in stored traffic: infected clients, and DGA domains that resolve (live controllers).

A bot running a DGA asks its resolver for many generated names, nearly all unregistered, until one
answers: so a client asking for many distinct DGA-scored domains, mostly answered NXDOMAIN, is likely
infected; and a DGA-scored domain that does resolve is a candidate controller, worth a takedown request.
Names are scored once per distinct query name, then only the DGA-scored ones are counted per client, so the
cost follows the number of distinct names rather than the number of messages.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt

from dnsvigil.findings import Finding, FindingCode, Severity, SubjectType, register_code
from dnsvigil.store.sql import SqlRunner

DETECTOR = "dga.traffic"
RCODE_NXDOMAIN = 3
UNKNOWN_FAMILY = "unknown"
STEM_LENGTH = 8  # characters a group of permuted names must share at the end of their labels
MIN_STEMMED_LABEL = 12  # shorter labels share endings by chance too often
ROUND_GAP_NS = 120 * 1_000_000_000  # a controller's lookup lies this close to a failed one of its round

INFECTED_CLIENT = register_code(
    FindingCode(
        "DGA.INFECTED_CLIENT",
        "Client asking for DGA-generated domains",
        "A client asked for many distinct domains that the DGA model scores as generated, most of them "
        "answered NXDOMAIN: the pattern of malware looking for its controller.",
        ("https://www.usenix.org/conference/usenixsecurity16/technical-sessions/presentation/plohmann",),
    )
)
DGA_DOMAIN = register_code(
    FindingCode(
        "DGA.DOMAIN",
        "DGA-generated domain that resolves",
        "A domain the DGA model scores as generated was answered with records: a candidate live "
        "command-and-control domain, to verify and then report to its registrar or registry.",
        ("https://www.usenix.org/conference/usenixsecurity16/technical-sessions/presentation/plohmann",),
    )
)


@dataclass(frozen=True, slots=True)
class NameVerdicts:
    """The DGA model's verdict on each of a list of query names, in order.

    `registrable` is the name's registrable domain, empty when it has none (reverse DNS, service labels,
    invalid names); `family` is the most likely DGA family of every name that has one, DGA-scored or
    not: `unknown` (or empty) when no family fits.
    """

    registrable: Sequence[str]
    score: npt.NDArray[np.float64]
    is_dga: npt.NDArray[np.bool_]
    family: Sequence[str]


Scorer = Callable[[Sequence[str]], NameVerdicts]


@dataclass(frozen=True, slots=True)
class DetectorSettings:
    """Thresholds of the traffic detector (defaults in `dnsvigil.config`).

    Attributes:
        min_dga_names: distinct DGA-scored domains (or, for the family rule, unresolved domains of one
            family) a client must ask for to be called infected.
        min_nxdomain_share: share of those queries that must have been answered NXDOMAIN.
        min_family_share: share of a client's unresolved domains that one family must explain for the
            family rule (names none of which is conclusive alone, as wordlist DGAs make).
        examples: example names kept in a finding's evidence.
    """

    min_dga_names: int = 8
    min_nxdomain_share: float = 0.5
    min_family_share: float = 0.8
    examples: int = 10


@dataclass(slots=True)
class _ClientTally:
    domains: dict[str, int] = field(default_factory=dict)  # registrable domain -> queries
    families: Counter[str] = field(default_factory=Counter)
    scores: list[float] = field(default_factory=list)
    nxdomain: int = 0
    answered: int = 0
    first_seen: datetime | None = None
    last_seen: datetime | None = None


def detect_dga_activity(
    runner: SqlRunner,
    scorer: Scorer,
    settings: DetectorSettings,
    *,
    days: Sequence[date] | None = None,
    resolver_addrs: Sequence[str] | None = None,
) -> list[Finding]:
    """Score the distinct query names of `dns_messages` (on `days`, else all) and return the findings.

    `resolver_addrs` limits the traffic to the clients of those resolvers (queries to them, responses from
    them). Without it every query counts, including a resolver's own queries to authoritative servers,
    where the "clients" are resolvers relaying their users' misses.

    Returns:
        `DGA.INFECTED_CLIENT` findings (subject: the client address) and `DGA.DOMAIN` findings (subject:
        the registrable domain that resolved), sorted by code and subject.
    """
    window, params = _window(days, resolver_addrs)
    names_table = runner.arrow(
        f"SELECT DISTINCT qname FROM dns_messages WHERE qname IS NOT NULL AND NOT malformed{window}", params
    )
    names = [str(name) for name in names_table.column("qname").to_pylist()]
    if not names:
        return []
    verdicts = scorer(names)
    flagged = {
        name: (verdicts.registrable[index], float(verdicts.score[index]), verdicts.family[index])
        for index, name in enumerate(names)
        if verdicts.is_dga[index] and verdicts.registrable[index]
    }
    rows = _rows_of(runner, flagged, window, params) if flagged else []
    findings = _by_scores(rows, flagged, settings)
    scored_clients = {finding.subject for finding in findings}
    by_groups, controllers = _by_groups(runner, names, verdicts, settings, window, params)
    findings.extend(finding for finding in by_groups if finding.subject not in scored_clients)
    findings.sort(key=lambda finding: finding.subject)
    infected = {finding.subject for finding in findings}
    unscored = {name: entry for name, entry in controllers.items() if name not in flagged}
    if unscored:
        # A name that only its group makes suspect counts when only infected clients ask for it: the
        # ordinary word-pair sites a wordlist bot's user also visits are asked for by other users too.
        candidates = _rows_of(runner, unscored, window, params)
        shared = {row["qname"] for row in candidates if row["client"] not in infected}
        rows += [row for row in candidates if row["qname"] not in shared]
    findings.extend(_live_domains(rows, flagged | unscored, infected, settings))
    return findings


def _by_scores(
    rows: list[dict[str, Any]], flagged: dict[str, tuple[str, float, str]], settings: DetectorSettings
) -> list[Finding]:
    """Clients asking for many DGA-scored domains, mostly unresolved."""
    clients = _tally_clients(rows, flagged)
    return [
        finding
        for client, tally in sorted(clients.items())
        if (finding := _infected_client(client, tally, settings, basis="dga-scores")) is not None
    ]


def _rows_of(
    runner: SqlRunner, flagged: dict[str, tuple[str, float, str]], window: str, params: list[object]
) -> list[dict[str, Any]]:
    """Per client and flagged name: queries, NXDOMAIN and answered responses, first and last time."""
    rows: list[dict[str, Any]] = runner.arrow(
        "SELECT CASE WHEN qr THEN dst_addr ELSE src_addr END AS client, qname,"
        " count(*) FILTER (WHERE NOT qr) AS queries,"
        f" count(*) FILTER (WHERE qr AND rcode = {RCODE_NXDOMAIN}) AS nxdomain,"
        " count(*) FILTER (WHERE qr AND rcode = 0 AND ancount > 0) AS answered,"
        " count(*) FILTER (WHERE qr) AS responses, min(ts) AS first_seen, max(ts) AS last_seen"
        " FROM dns_messages WHERE NOT malformed AND qname IN (SELECT unnest(?::VARCHAR[]))"
        f"{window} GROUP BY ALL ORDER BY ALL",
        [sorted(flagged), *params],
    ).to_pylist()
    return rows


def _by_groups(
    runner: SqlRunner,
    names: Sequence[str],
    verdicts: NameVerdicts,
    settings: DetectorSettings,
    window: str,
    params: list[object],
) -> tuple[list[Finding], dict[str, tuple[str, float, str]]]:
    """Clients whose unresolved domains mostly form one group, though no name need be DGA-scored.

    Wordlist and permutation DGAs make names that pass one by one for ordinary ones; what gives them
    away is a client missing many names that are all alike: alike to one family's names as the model
    knows them (basis `family`), or sharing one stem under one suffix, as names made by varying the start
    of a seed name do (basis `shared-stem`). A group must hold `min_family_share` of all the client's
    unresolved domains, so a user's typos, which are alike to nothing in particular, do not add up.

    Returns:
        The findings, and the names of each flagged client's group that resolved: its likely controllers.
    """
    entries = {
        name: (verdicts.registrable[index], float(verdicts.score[index]), verdicts.family[index])
        for index, name in enumerate(names)
        if verdicts.registrable[index]
    }
    clients = runner.arrow(
        "SELECT dst_addr AS client,"
        f" list(DISTINCT qname) FILTER (WHERE rcode = {RCODE_NXDOMAIN}) AS unresolved,"
        " list(DISTINCT qname) FILTER (WHERE rcode = 0 AND ancount > 0) AS resolved"
        f" FROM dns_messages WHERE qr AND qname IS NOT NULL AND NOT malformed{window} GROUP BY ALL"
        f" HAVING count(DISTINCT qname) FILTER (WHERE rcode = {RCODE_NXDOMAIN}) >= ? ORDER BY ALL",
        [*params, settings.min_dga_names],
    ).to_pylist()
    findings: list[Finding] = []
    controllers: dict[str, tuple[str, float, str]] = {}
    for row in clients:
        unresolved = [qname for qname in row["unresolved"] if qname in entries]
        resolved = [qname for qname in row["resolved"] or [] if qname in entries]
        domains = {entries[qname][0] for qname in unresolved}
        if len(domains) < settings.min_dga_names:
            continue
        for basis, key in (("family", _family_key), ("shared-stem", _stem_key)):
            groups: dict[str, set[str]] = defaultdict(set)
            for qname in unresolved:
                if group := key(entries[qname]):
                    groups[group].add(entries[qname][0])
            if not groups:
                continue
            group, group_domains = max(groups.items(), key=lambda item: (len(item[1]), item[0]))
            if len(group_domains) < settings.min_family_share * len(domains):
                continue
            alike = {qname: entries[qname] for qname in unresolved + resolved if key(entries[qname]) == group}
            answering = _looked_up_in_rounds(runner, row["client"], alike, window, params)
            members = {qname: alike[qname] for qname in unresolved if qname in alike}
            members.update((qname, alike[qname]) for qname in answering)
            tally = _tally_clients(_rows_of(runner, members, window, params), members).get(row["client"])
            if tally and (finding := _infected_client(row["client"], tally, settings, basis=basis)):
                findings.append(finding)
                # A controller scores as low as its siblings: it carries the client's confidence instead.
                controllers.update(
                    (qname, (alike[qname][0], finding.confidence, alike[qname][2])) for qname in answering
                )
                break
    return findings, controllers


def _looked_up_in_rounds(
    runner: SqlRunner,
    client: str,
    members: dict[str, tuple[str, float, str]],
    window: str,
    params: list[object],
) -> list[str]:
    """The resolved names of a client's group that it asked for in the rounds of its failed lookups.

    A bot walks its list of generated names round after round and ends each round at the name that
    answers, so a controller's lookups sit amid failed ones; an ordinary site of the same look that the
    user visited is asked for at other times.
    """
    lookups = runner.arrow(
        f"SELECT qname, epoch_ns(ts) AS ns, rcode = {RCODE_NXDOMAIN} AS failed FROM dns_messages"
        f" WHERE qr AND dst_addr = ? AND NOT malformed AND qname IN (SELECT unnest(?::VARCHAR[])){window}",
        [client, sorted(members), *params],
    ).to_pylist()
    failed = np.sort(np.array([row["ns"] for row in lookups if row["failed"]], dtype=np.int64))
    answered: dict[str, list[int]] = defaultdict(list)
    for row in lookups:
        if not row["failed"]:
            answered[row["qname"]].append(row["ns"])
    if not len(failed):
        return []
    controllers = []
    for qname, times in sorted(answered.items()):
        at = np.array(times, dtype=np.int64)
        after = np.clip(np.searchsorted(failed, at), 0, len(failed) - 1)
        before = np.clip(after - 1, 0, len(failed) - 1)
        gap = np.minimum(np.abs(failed[after] - at), np.abs(at - failed[before]))
        near = int(np.count_nonzero(gap <= ROUND_GAP_NS))
        if near >= 2 and near >= len(times) / 2:
            controllers.append(qname)
    return controllers


def _family_key(entry: tuple[str, float, str]) -> str:
    """The name's family when the model knows one."""
    return "" if entry[2] in ("", UNKNOWN_FAMILY) else entry[2]


def _stem_key(entry: tuple[str, float, str]) -> str:
    """The end of a long registrable label, with its suffix: what names varied at their start share."""
    label, _, suffix = entry[0].partition(".")
    return f"{label[-STEM_LENGTH:]}.{suffix}" if len(label) >= MIN_STEMMED_LABEL else ""


def _window(days: Sequence[date] | None, resolver_addrs: Sequence[str] | None) -> tuple[str, list[object]]:
    """SQL conditions (each starting with AND) and their parameters for the days and resolvers asked."""
    sql, params = "", list[object]()
    if days:
        sql += " AND (" + " OR ".join("(ts >= ?::TIMESTAMPTZ AND ts < ?::TIMESTAMPTZ)" for _ in days) + ")"
        for day in days:
            params += [
                f"{day.isoformat()} 00:00:00+00",
                f"{(day + timedelta(days=1)).isoformat()} 00:00:00+00",
            ]
    if resolver_addrs:
        sql += " AND (CASE WHEN qr THEN src_addr ELSE dst_addr END) IN (SELECT unnest(?::VARCHAR[]))"
        params.append(list(resolver_addrs))
    return sql, params


def _tally_clients(
    rows: list[dict[str, Any]], flagged: dict[str, tuple[str, float, str]]
) -> dict[str, _ClientTally]:
    clients: dict[str, _ClientTally] = defaultdict(_ClientTally)
    for row in rows:
        registrable, score, family = flagged[row["qname"]]
        tally = clients[row["client"]]
        if registrable not in tally.domains:
            tally.families[family] += 1
            tally.scores.append(score)
        tally.domains[registrable] = tally.domains.get(registrable, 0) + row["queries"]
        tally.nxdomain += row["nxdomain"]
        tally.answered += row["responses"]
        tally.first_seen = min(filter(None, (tally.first_seen, row["first_seen"])))
        tally.last_seen = max(filter(None, (tally.last_seen, row["last_seen"])))
    return clients


def _infected_client(
    client: str, tally: _ClientTally, settings: DetectorSettings, *, basis: str
) -> Finding | None:
    nxdomain_share = tally.nxdomain / tally.answered if tally.answered else 1.0
    if len(tally.domains) < settings.min_dga_names or nxdomain_share < settings.min_nxdomain_share:
        return None
    family, votes = tally.families.most_common(1)[0]
    assert tally.first_seen is not None and tally.last_seen is not None
    return Finding(
        code=INFECTED_CLIENT.code,
        subject_type=SubjectType.CLIENT,
        subject=client,
        severity=Severity.HIGH,
        confidence=round(_belief(tally, basis) * min(1.0, 0.5 + nxdomain_share / 2), 4),
        first_seen=tally.first_seen,
        last_seen=tally.last_seen,
        detector=DETECTOR,
        evidence={
            "basis": basis,
            "dga_domains": len(tally.domains),
            "queries": sum(tally.domains.values()),
            "nxdomain_share": round(nxdomain_share, 4),
            "family": family,
            "family_votes": dict(tally.families.most_common()),
            "family_share": round(votes / len(tally.domains), 4),
            "examples": sorted(tally.domains, key=lambda name: (-tally.domains[name], name))[
                : settings.examples
            ],
        },
    )


def _belief(tally: _ClientTally, basis: str) -> float:
    """How sure the detector is: the names' mean score, or for a group rule (names that look ordinary
    one by one) halfway between that and certainty, capped below what the score rule reaches."""
    mean_score = float(np.mean(tally.scores))
    if basis == "dga-scores":
        return mean_score
    return min(0.8, 0.5 * mean_score + 0.5)


def _live_domains(
    rows: list[dict[str, Any]],
    flagged: dict[str, tuple[str, float, str]],
    infected: set[str],
    settings: DetectorSettings,
) -> list[Finding]:
    """A DGA-scored domain that resolves; asked for by an infected client, it is most likely a live
    controller (high severity), otherwise maybe a benign name that merely looks generated (low)."""
    resolved: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        registrable = flagged[row["qname"]][0]
        resolved[registrable].append(row)
    findings = []
    for registrable, domain_rows in sorted(resolved.items()):
        answered = [row for row in domain_rows if row["answered"]]
        if not answered:
            continue
        scores = {flagged[row["qname"]][1] for row in domain_rows}
        families = Counter(flagged[row["qname"]][2] for row in domain_rows)
        askers = sorted({row["client"] for row in domain_rows})
        infected_askers = sorted(infected.intersection(askers))
        findings.append(
            Finding(
                code=DGA_DOMAIN.code,
                subject_type=SubjectType.DOMAIN,
                subject=registrable,
                severity=Severity.HIGH if infected_askers else Severity.LOW,
                confidence=round(max(scores) * (1.0 if infected_askers else 0.5), 4),
                first_seen=min(row["first_seen"] for row in answered),
                last_seen=max(row["last_seen"] for row in answered),
                detector=DETECTOR,
                evidence={
                    "family": families.most_common(1)[0][0],
                    "query_names": sorted({row["qname"] for row in domain_rows})[: settings.examples],
                    "answers": sum(row["answered"] for row in domain_rows),
                    "clients": len(askers),
                    "infected_clients": infected_askers[: settings.examples],
                    "client_examples": askers[: settings.examples],
                },
            )
        )
    return findings
