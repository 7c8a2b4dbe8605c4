"""What the server reads in a message's text: ``@username`` mentions, and the character 2-grams of search.

Search matches case-insensitively on any substring, in any script: text and query are compared in one
normal form (NFKC, case-folded, NFKC again so a folded character that decomposes is composed back). The
index holds each message's distinct 2-grams of that form; a query's 2-grams must all be present (an index
lookup) and the query must then be a substring of the message (the check in Python), which drops messages
holding the 2-grams apart. docs/chat-service.md, "Search", gives the cost.
"""

from __future__ import annotations

import re
import unicodedata

#: Ends every text's 2-grams, so its last character also begins one: a query that folds to one character
#: (``"e\u0301"`` → ``"é"``) finds it by the prefix of a 2-gram.
END = "\x00"

#: ``@name``: a username as user-service allows it (3–20 of ``A–Z a–z 0–9 _``), not inside a word or an
#: e-mail address (``me@example``), not the start of a longer name.
_MENTION = re.compile(r"(?<![A-Za-z0-9_@])@([A-Za-z0-9_]{3,20})(?![A-Za-z0-9_])")
#: Distinct names looked up per message: more than a group's 100 members never resolve anyway.
MAX_MENTIONS = 100


def fold(text: str) -> str:
    """The normal form search compares in."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())


def grams(text: str) -> list[str]:
    """The distinct 2-grams of a message's folded text (its last character paired with :data:`END`)."""
    folded = fold(text) + END
    return sorted({folded[i : i + 2] for i in range(len(folded) - 1)})


def query_grams(folded: str) -> list[str]:
    """The distinct 2-grams every message matching the folded query holds (none for one character)."""
    return sorted({folded[i : i + 2] for i in range(len(folded) - 1)})


def mentioned_names(content: str) -> list[str]:
    """The lower-cased names of ``@name`` mentions, in order of first appearance, at most MAX_MENTIONS."""
    names: dict[str, None] = {}
    for match in _MENTION.finditer(content):
        names.setdefault(match.group(1).lower(), None)
        if len(names) >= MAX_MENTIONS:
            break
    return list(names)


def excerpt(content: str | None) -> str | None:
    """The quoted part of a message in a reply: its first 100 characters."""
    return None if content is None else content[:100]
