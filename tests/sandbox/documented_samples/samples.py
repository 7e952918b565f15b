"""Every documented sample, from the per-API modules."""

from __future__ import annotations

from tests.sandbox.documented_samples.conference_v1_samples import SAMPLES as CONFERENCE_V1
from tests.sandbox.documented_samples.conference_v2_samples import SAMPLES as CONFERENCE_V2
from tests.sandbox.documented_samples.core_samples import SAMPLES as CORE
from tests.sandbox.documented_samples.flexml_samples import SAMPLES as FLEXML
from tests.sandbox.documented_samples.mediator_samples import SAMPLES as MEDIATOR
from tests.sandbox.documented_samples.model import Sample

SAMPLES: tuple[Sample, ...] = (*CORE, *CONFERENCE_V1, *CONFERENCE_V2, *FLEXML, *MEDIATOR)
