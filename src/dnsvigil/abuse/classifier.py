"""Malicious or compromised: was a listed domain registered to abuse, or is it a hacked legitimate site?

The answer decides whom a finding concerns: a maliciously registered domain is the registrar's and the
registry's business; a compromised one is the site owner's and its host's. Counting both as "registrar
abuse" was the main criticism of the early abuse reports.

Each listed domain (listed for a security threat: phishing, malware, botnet C&C) is described by what the
literature found to separate the two: its age when first listed (hacked sites are old), whether it was
registered in a batch of similar names (same registrar, day, name servers and first letters), brand and lure
words (de-leeted, so `paypa1` counts), its DGA score, the depth of its listed URLs and a `/wp-` path (hacked
sites serve from deep CMS paths), how many feeds list it and for what, and its popularity: the best rank
it had in a top list (`domain_popularity`) on or before the day it was first listed (hacked sites are
often popular; a domain registered to abuse rarely is, and ranks taken after the listing would count the
victims' traffic). A domain absent from lists that existed then ranks `UNRANKED`; with no list that old,
popularity is unknown and the model does without it. Feeds that say so (DBL's "abused
legitimate" return codes, and their ordinary codes) give the labels: a gradient-boosted classifier learns
from the labelled domains and decides the others; its precision and recall are measured by five-fold
cross-validation on the labelled ones. A labelled domain keeps its label. Without both kinds of label
there is nothing to learn from: a domain is then called malicious when it was first listed within
`YOUNG_DAYS` of its registration, the rule most studies start from, and the verdicts say so.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
from sklearn.ensemble import HistGradientBoostingClassifier  # type: ignore[import-untyped]
from sklearn.model_selection import StratifiedKFold, cross_val_predict  # type: ignore[import-untyped]

from dnsvigil.dga.model import DgaModel, load_model
from dnsvigil.store.schema import DOMAIN_VERDICTS
from dnsvigil.store.sql import SqlRunner

DgaScorer = Callable[[Sequence[str]], npt.NDArray[np.float64]]
YOUNG_DAYS = 90.0
UNRANKED = 10_000_000
"""The rank given to a domain in none of the top lists of its time: beyond any published list (1M names)."""
FOLDS = 5
MIN_LABELS_PER_CLASS = 10
BRANDS = (
    "paypal", "apple", "icloud", "microsoft", "office365", "outlook", "netflix", "amazon", "chase",
    "wellsfargo", "bankofamerica", "dhl", "fedex", "usps", "facebook", "instagram", "whatsapp", "google",
    "coinbase", "binance", "metamask", "adobe", "docusign", "linkedin", "steam",
)  # fmt: skip
"""Brands most often impersonated by phishing (APWG and PhishTank target lists)."""
LURES = (
    "login", "signin", "secure", "verify", "verification", "account", "update", "support", "billing",
    "auth", "wallet", "recover", "unlock", "confirm", "webscr", "invoice", "payment",
)  # fmt: skip
_LEET = tuple(zip("013457", "oleast", strict=True))
"""Digits that stand for letters in look-alike names (`paypa1`)."""
FEATURES = (
    "log_age_days", "age_unknown", "log_similar_in_batch", "brand_words", "lure_words", "hyphens", "digits",
    "dga_score", "path_depth", "cms_path", "feeds", "phishing", "malware", "botnet_cc", "log_rank",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Verdicts:
    """The verdict on every listed domain, and how good the classifier was measured to be.

    Attributes:
        table: rows of `DOMAIN_VERDICTS`, one per domain.
        basis: "model" (learnt from labels), or "rule" (not enough labels: the age rule).
        labelled: domains with a feed's label; of them `labelled_malicious` maliciously registered.
        precision, recall: of the class "malicious", by cross-validation on the labelled domains (None
            under the rule).
    """

    table: pa.Table
    basis: str
    labelled: int
    labelled_malicious: int
    precision: float | None
    recall: float | None


def classify_listed_domains(
    runner: SqlRunner, dga_score: DgaScorer | None, *, computed_at: datetime
) -> Verdicts:
    """Decide malicious or compromised for every domain ever listed for a security threat."""
    rows = runner.arrow(_FEATURE_SQL.format(unranked=UNRANKED))
    domains = rows.column("domain")
    features = _features(rows, dga_score)
    labels = rows.column("label")
    labelled = pc.is_valid(labels).to_numpy(False)
    truth = pc.drop_null(labels).to_numpy(False).astype(bool)
    malicious_labels = int(truth.sum())
    enough = min(malicious_labels, len(truth) - malicious_labels) >= MIN_LABELS_PER_CLASS
    precision = recall = None
    if enough:
        # A feature unknown for every labelled domain (popularity with no list ingested) teaches nothing.
        known = features[:, ~np.isnan(features[labelled]).all(axis=0)]
        model = _model()
        folds = StratifiedKFold(n_splits=FOLDS, shuffle=True, random_state=0)
        predicted = cross_val_predict(model, known[labelled], truth, cv=folds)
        precision, recall = _precision_recall(truth, predicted)
        probability = model.fit(known[labelled], truth).predict_proba(known)[:, 1]
        basis = "model"
    else:
        age = features[:, FEATURES.index("log_age_days")]
        known = features[:, FEATURES.index("age_unknown")] == 0
        probability = np.where(known & (age <= np.log1p(YOUNG_DAYS)), 1.0, 0.0)
        basis = "rule"
    probability[labelled] = truth.astype(np.float64)
    table = pa.table(
        {
            "domain": domains,
            "computed_at": pa.array(
                [computed_at] * len(domains), DOMAIN_VERDICTS.schema.field("computed_at").type
            ),
            "malicious": probability >= 0.5,
            "malicious_probability": np.round(probability, 6),
            "basis": ["label" if flag else basis for flag in labelled],
            "age_days": rows.column("age_days"),
            "similar_in_batch": rows.column("similar_in_batch"),
        },
        schema=DOMAIN_VERDICTS.schema,
    )
    return Verdicts(table, basis, int(labelled.sum()), malicious_labels, precision, recall)


def model_dga_scorer(model: DgaModel) -> DgaScorer:
    """DGA scores from `model` (0 for names it does not score)."""

    def score(names: Sequence[str]) -> npt.NDArray[np.float64]:
        return np.nan_to_num(model.score_names(names).score)

    return score


def shipped_dga_scorer() -> DgaScorer:
    """DGA scores from the model shipped with dnsvigil."""
    return model_dga_scorer(load_model())


def _model() -> HistGradientBoostingClassifier:
    # Small leaves: a registry may have only a few dozen labelled domains to learn from.
    return HistGradientBoostingClassifier(max_iter=150, learning_rate=0.1, min_samples_leaf=5, random_state=0)


def _precision_recall(truth: npt.NDArray[np.bool_], predicted: npt.NDArray[np.bool_]) -> tuple[float, float]:
    hits = int((truth & predicted).sum())
    return hits / max(int(predicted.sum()), 1), hits / max(int(truth.sum()), 1)


def _words(labels: pa.Array, words: tuple[str, ...]) -> npt.NDArray[np.float64]:
    """How many of `words` each label holds, as written or de-leeted."""
    plain = labels
    for digit, letter in _LEET:
        plain = pc.replace_substring(plain, digit, letter)
    found = np.zeros(len(labels))
    for word in words:
        found += pc.or_(pc.match_substring(labels, word), pc.match_substring(plain, word)).to_numpy(False)
    return found


def _numbers(column: pa.ChunkedArray, missing: float = 0.0) -> npt.NDArray[np.float64]:
    return np.asarray(pc.fill_null(column.cast(pa.float64()), missing).to_numpy(), dtype=np.float64)


def _features(rows: pa.Table, dga_score: DgaScorer | None) -> npt.NDArray[np.float64]:
    domains = rows.column("domain").combine_chunks()
    labels = pc.struct_field(pc.extract_regex(domains, r"^(?P<label>[^.]*)"), "label")
    age = rows.column("age_days").cast(pa.float64())
    ages = _numbers(age)
    scores = dga_score(domains.to_pylist()) if dga_score and len(domains) else np.zeros(len(domains))
    return np.column_stack(
        [
            np.where(np.isnan(ages), 0.0, np.log1p(np.maximum(ages, 0.0))),
            pc.is_null(age).to_numpy(False).astype(np.float64),
            np.log1p(_numbers(rows.column("similar_in_batch"))),
            _words(labels, BRANDS),
            _words(labels, LURES),
            pc.count_substring(labels, "-").to_numpy(False),
            pc.count_substring_regex(labels, "[0-9]").to_numpy(False),
            scores,
            _numbers(rows.column("path_depth")),
            *(
                _numbers(rows.column(flag))
                for flag in ("cms_path", "feeds", "phishing", "malware", "botnet_cc")
            ),
            np.log10(_numbers(rows.column("popularity_rank"), np.nan)),
        ]
    ).astype(np.float64)


_FEATURE_SQL = """
WITH listed AS (
  SELECT domain, min(coalesce(first_seen::TIMESTAMPTZ, observed::TIMESTAMPTZ)) AS first_listed,
    count(DISTINCT feed) AS feeds, bool_or(threat = 'phishing') AS phishing,
    bool_or(threat = 'malware') AS malware, bool_or(threat = 'botnet_cc') AS botnet_cc,
    max(len(regexp_extract_all(regexp_replace(url, '^[a-zA-Z]+://[^/]*', ''), '/[^/?#]+'))) AS path_depth,
    bool_or(url ILIKE '%/wp-%') AS cms_path,
    CASE WHEN bool_or(abused_legitimate) THEN false WHEN bool_or(NOT abused_legitimate) THEN true END AS label
  FROM abuse_listings WHERE NOT private_suffix
  GROUP BY domain HAVING bool_or(threat <> 'spam')
),
registered AS (
  SELECT domain, arg_max(registrar_iana_id, observed) AS registrar, arg_max(created, observed) AS created,
    array_to_string(list_sort(arg_max(nameservers, observed)), ',') AS servers
  FROM registrations GROUP BY domain
),
popular AS (
  SELECT l.domain, min(p.rank) AS best_rank
  FROM listed l JOIN domain_popularity p ON p.domain = l.domain AND p.observed <= l.first_listed::DATE
  GROUP BY l.domain
),
lists AS (SELECT min(observed) AS first_list FROM domain_popularity),
batched AS (
  SELECT domain, created, CASE WHEN servers = '' OR created IS NULL THEN 0 ELSE
    count(*) OVER (PARTITION BY registrar, created::DATE, servers, left(domain, 4)) - 1 END
    AS similar_in_batch
  FROM registered
)
SELECT l.domain, epoch(l.first_listed - b.created::TIMESTAMPTZ) / 86400.0 AS age_days,
  coalesce(b.similar_in_batch, 0) AS similar_in_batch, l.feeds, l.phishing, l.malware, l.botnet_cc,
  l.path_depth, l.cms_path, l.label,
  CASE WHEN p.best_rank IS NOT NULL THEN p.best_rank
    WHEN l.first_listed::DATE >= lists.first_list THEN {unranked} END AS popularity_rank
FROM listed l LEFT JOIN batched b USING (domain) LEFT JOIN popular p USING (domain) CROSS JOIN lists
ORDER BY l.domain"""
