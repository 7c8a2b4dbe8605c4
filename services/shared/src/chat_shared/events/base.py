"""The base of every domain event: the class is the event type.

A subclass names one event (``event_type`` is the class name), declares the topic it travels on and its
schema version as class variables, and its partition key as the ``key`` property::

    class MessageSent(DomainEvent):
        topic = MESSAGE_EVENTS

        room_id: int
        ...

        @property
        def key(self) -> int:
            return self.room_id

    outbox.add(session, MessageSent(room_id=..., seq=..., message=...))

The fields are the envelope's ``payload``; the envelope itself is built by the outbox (see
:meth:`chat_shared.events.envelope.EventEnvelope.of`).
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict


class DomainEvent(BaseModel):
    """A fact one service publishes; its fields are the payload, unknown fields are ignored (a newer
    producer may add some)."""

    model_config = ConfigDict(extra="ignore")

    #: The envelope's ``event_type``: the class name, set for every subclass.
    event_type: ClassVar[str]
    #: The topic the event is published on (one of :data:`chat_shared.events.topics.TOPICS`).
    topic: ClassVar[str]
    #: The envelope's ``event_version``: raised when the payload changes incompatibly.
    version: ClassVar[int] = 1

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        cls.event_type = cls.__name__

    @property
    def key(self) -> int:
        """The partition key: events with the same key are consumed in the order they were written."""
        raise NotImplementedError(f"{type(self).__name__} declares no partition key")
