"""Strict validation of custom resources (cert-manager, prometheus-operator) that kubernetes-validate has no
schema for: each document is parsed into the generated models of the CRDs (the cloudcoil-models-*
packages, built from each project's CRD OpenAPI schemas) and must come back unchanged, so a misspelt or
misplaced field, which the models would silently drop, fails as surely as a missing required one."""

from __future__ import annotations

import importlib
from typing import Any

# apiVersion -> the package of its generated models
MODEL_PACKAGES = {
    "cert-manager.io/v1": "cloudcoil.models.cert_manager.v1",
    "acme.cert-manager.io/v1": "cloudcoil.models.cert_manager.acme.v1",
    "monitoring.coreos.com/v1": "cloudcoil.models.prometheus_operator.v1",
    "monitoring.coreos.com/v1alpha1": "cloudcoil.models.prometheus_operator.v1alpha1",
}


def is_custom(doc: dict[str, Any]) -> bool:
    return doc.get("apiVersion") in MODEL_PACKAGES


def _dropped(given: Any, kept: Any, where: str) -> list[str]:
    if isinstance(given, dict):
        if not isinstance(kept, dict):
            return [where]
        problems = [f"{where}.{key}" for key in given if key not in kept]
        for key in given.keys() & kept.keys():
            problems += _dropped(given[key], kept[key], f"{where}.{key}")
        return problems
    if isinstance(given, list):
        if not isinstance(kept, list) or len(kept) != len(given):
            return [where]
        return [p for i, (g, k) in enumerate(zip(given, kept, strict=True)) for p in _dropped(g, k, f"{where}[{i}]")]
    return []


def validate(doc: dict[str, Any]) -> None:
    """Raises (pydantic's ValidationError or AssertionError) unless the document is a valid resource."""
    module = importlib.import_module(MODEL_PACKAGES[doc["apiVersion"]])
    model = getattr(module, doc["kind"])
    parsed = model.model_validate(doc)
    kept = parsed.model_dump(by_alias=True, exclude_unset=True, mode="json")
    unknown = _dropped(doc, kept, doc["kind"])
    assert not unknown, f"{doc['kind']}/{doc['metadata']['name']}: unknown fields {unknown}"
