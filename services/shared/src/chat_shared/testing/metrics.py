"""A parsed ``/metrics`` answer, so tests compare counter values (before and after) instead of looking for
a metric's name in the text (which prometheus-client prints whether anything was recorded or not)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import httpx
from prometheus_client.parser import text_string_to_metric_families

_TYPE_LINE = re.compile(r"^# TYPE (\S+) (\S+)$", re.MULTILINE)
_HELP_LINE = re.compile(r"^# HELP (\S+) ", re.MULTILINE)


@dataclass(frozen=True)
class Sample:
    """One sample line."""

    name: str
    labels: dict[str, str]
    value: float


@dataclass
class Scrape:
    """One ``/metrics`` answer: the declared families (``# TYPE``/``# HELP``) and every sample."""

    text: str
    types: dict[str, str] = field(default_factory=dict)
    helps: set[str] = field(default_factory=set)
    samples: list[Sample] = field(default_factory=list)

    @classmethod
    def parse(cls, text: str) -> Scrape:
        """Parse the text exposition format."""
        scrape = cls(text)
        scrape.types = dict(_TYPE_LINE.findall(text))
        scrape.helps = set(_HELP_LINE.findall(text))
        for family in text_string_to_metric_families(text):
            for s in family.samples:
                scrape.samples.append(Sample(s.name, dict(s.labels), float(s.value)))
        return scrape

    def series(self, name: str, **labels: str) -> list[Sample]:
        """Samples named ``name`` whose labels include ``labels``."""
        return [s for s in self.samples if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())]

    def value(self, name: str, **labels: str) -> float:
        """The sum of the matching samples (0 when there is none)."""
        return sum(s.value for s in self.series(name, **labels))

    def only(self, name: str, **labels: str) -> float:
        """The value of the one sample matching; fails when there is none or several."""
        found = self.series(name, **labels)
        assert len(found) == 1, f"expected one {name}{labels} sample, found {found}"
        return found[0].value

    def label_values(self, name: str, label: str) -> set[str]:
        """The values ``label`` takes on the samples named ``name``."""
        return {s.labels[label] for s in self.samples if s.name == name and label in s.labels}


async def scrape(client: httpx.AsyncClient, url: str = "/metrics") -> Scrape:
    """``GET url`` (a service's ``/metrics``) parsed."""
    response = await client.get(url)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain"), response.headers["content-type"]
    return Scrape.parse(response.text)
