"""`/api/v1/dga/scores`: the DGA model's verdicts on submitted names (analyst: scoring costs CPU)."""

from __future__ import annotations

import contextlib
import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from dnsvigil.config import find_setting
from dnsvigil.errors import DnsvigilError
from dnsvigil.web.api.models import DgaScores, DgaVerdict
from dnsvigil.web.auth import Analyst
from dnsvigil.web.errors import ERROR_RESPONSES

if TYPE_CHECKING:
    from dnsvigil.dga.model import DgaModel

router = APIRouter(prefix="/api/v1/dga", tags=["dga"], responses=ERROR_RESPONSES)

MAX_NAMES = 1000


class NamesToScore(BaseModel):
    """Domain names to score, one per entry (IDNs in Unicode or A-labels)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    names: list[Annotated[str, StringConstraints(max_length=1024)]] = Field(
        min_length=1, max_length=MAX_NAMES
    )


def _model() -> DgaModel:
    # Imported on first use: the model and its compiled features take a second to load, and `serve`
    # must start fast; `load_model` keeps it for the life of the process.
    from dnsvigil.dga.model import SHIPPED_MODEL, load_model

    configured = find_setting("dga_model").read()
    return load_model(Path(configured) if configured else SHIPPED_MODEL)


def warm_up() -> None:
    """Load the model and score one name, in the background when `serve` starts: the first request for
    scores then finds it ready, which it would otherwise wait seconds for. A model that cannot be loaded is
    left for that request to report."""
    with contextlib.suppress(DnsvigilError):
        score_names(["example.com"])


def score_names(names: list[str]) -> DgaScores:
    """The model's verdicts on `names`, in their order; names that cannot be scored say why."""
    from dnsvigil.dga.names import Rejection

    model = _model()
    verdicts = []
    for given, verdict in zip(names, model.score_names(names), strict=True):
        if isinstance(verdict, Rejection):
            verdicts.append(DgaVerdict(name=given, rejected=verdict.reason))
            continue
        verdicts.append(
            DgaVerdict(
                name=given,
                normalized=verdict.name,
                registrable=verdict.registrable,
                score=verdict.score if math.isfinite(verdict.score) else None,
                is_dga=verdict.is_dga,
                family=verdict.family,
                family_confidence=verdict.family_confidence,
            )
        )
    return DgaScores(threshold=model.info.threshold, verdicts=verdicts)


@router.post("/scores", response_model=DgaScores, summary="Score names (analyst)")
def post_scores(user: Analyst, body: NamesToScore) -> DgaScores:
    """Score up to 1,000 names: each gets a score in [0, 1], whether it is above the model's operating
    threshold (`is_dga`) and, when it is, the most likely family; a name with no registrable label (not a
    domain, reverse DNS, a public suffix) comes back with `rejected` saying why."""
    return score_names(body.names)
