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
_LEET = str.maketrans("013457", "oleast")
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
    rows = runner.arrow(_FEATURE_SQL.format(unranked=UNRANKED)).to_pylist()
    domains = [row["domain"] for row in rows]
    features = _features(rows, dga_score)
    labels = np.array([row["label"] for row in rows], dtype=object)
    labelled = np.array([label is not None for label in labels])
    truth = np.array([bool(label) for label in labels[labelled]])
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
            "age_days": [row["age_days"] for row in rows],
            "similar_in_batch": [row["similar_in_batch"] for row in rows],
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


def _words(label: str, words: tuple[str, ...]) -> int:
    plain = label.translate(_LEET)
    return sum(word in label or word in plain for word in words)


def _features(rows: list[dict[str, object]], dga_score: DgaScorer | None) -> npt.NDArray[np.float64]:
    labels = [str(row["domain"]).split(".", 1)[0] for row in rows]
    scores = dga_score([str(row["domain"]) for row in rows]) if dga_score and rows else np.zeros(len(rows))
    matrix = np.zeros((len(rows), len(FEATURES)), dtype=np.float64)
    for index, (row, label) in enumerate(zip(rows, labels, strict=True)):
        age = row["age_days"]
        matrix[index] = (
            np.log1p(max(0.0, float(age))) if isinstance(age, float) else 0.0,
            0.0 if isinstance(age, float) else 1.0,
            np.log1p(float(row["similar_in_batch"] or 0)),  # type: ignore[arg-type]
            _words(label, BRANDS),
            _words(label, LURES),
            label.count("-"),
            sum(character.isdigit() for character in label),
            scores[index],
            float(row["path_depth"] or 0),  # type: ignore[arg-type]
            float(bool(row["cms_path"])),
            float(row["feeds"]),  # type: ignore[arg-type]
            float(bool(row["phishing"])),
            float(bool(row["malware"])),
            float(bool(row["botnet_cc"])),
            np.log10(float(rank)) if isinstance(rank := row["popularity_rank"], int) else np.nan,
        )
    return matrix


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
