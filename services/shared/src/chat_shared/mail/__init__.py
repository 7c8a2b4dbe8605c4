"""Outgoing e-mail: the SMTP client (:mod:`.client`), the templates (:mod:`.templates`) and the choice of
language (:mod:`.locale`). notification-service sends the welcome mail with it; user-service sends the
password-reset mail with the same client, so a reset token never leaves the process that made it."""
