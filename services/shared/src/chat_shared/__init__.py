"""chat_shared: the small internal library every BigTech Chat service installs.

It holds only what all three services need: settings base, store factories, the event envelope and
schemas, the outbox relay and consumer runner, JWT verification, middleware and typed errors.
It never imports a service.
"""
