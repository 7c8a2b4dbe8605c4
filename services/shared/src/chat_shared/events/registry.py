"""Every event type, found from the classes of the context modules, for what describes all of them (the
AsyncAPI document). Producers and consumers need no registry: they use the classes themselves."""

from __future__ import annotations

from types import ModuleType

from chat_shared.events import chat, friend, user
from chat_shared.events.base import DomainEvent


def _events_of(module: ModuleType) -> list[type[DomainEvent]]:
    """The event classes a context module defines, in definition order: the classes no other class of the
    module derives from (the bases, such as ``MessageEvent``, only group what their events share)."""
    classes = [
        value
        for value in vars(module).values()
        if isinstance(value, type) and issubclass(value, DomainEvent) and value.__module__ == module.__name__
    ]
    return [c for c in classes if not any(other is not c and issubclass(other, c) for other in classes)]


#: Every event type, grouped by producing context.
EVENTS: tuple[type[DomainEvent], ...] = tuple(e for module in (user, friend, chat) for e in _events_of(module))


def events_on(topic: str) -> list[type[DomainEvent]]:
    """The event types published on ``topic``."""
    return [e for e in EVENTS if e.topic == topic]
