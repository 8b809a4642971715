"""Reading-grade figures for notices and pages (S14): plain language at a reading age of about 9.

English: the Flesch-Kincaid grade level
    grade = 0.39 * (words / sentences) + 11.8 * (syllables / words) - 15.59

Spanish: the Fernandez-Huerta ease score (Flesch's formula adapted to Spanish, 1959)
    ease = 206.84 - 0.60 * P - 1.02 * F      (P = syllables per 100 words, F = sentences per 100 words)
and the Szigriszt-Pazos perspicuity (INFLESZ scale, 1993)
    perspicuity = 206.835 - 62.3 * (syllables / words) - (words / sentences)
The Spanish grade is Crawford's formula (1984), written for Spanish as a number of school years:
    grade = -0.205 * F + 0.049 * P - 3.407
(the ease scores are kept alongside, for readers used to the INFLESZ scale: 55-65 "normal").

A text above ``WARN_ABOVE_GRADE`` (8) gets a warning. The syllable counters are small heuristics written here
(no dictionary, no nltk): the English one counts vowel groups with the usual corrections (silent final
"e", "-le", "-es"/"-ed" endings); the Spanish one follows the spelling rules (strong vowels a, e, o
split; an accented i or u splits; "qu"/"gu" before e or i hide the u), which are nearly exact.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

WARN_ABOVE_GRADE = 8.0

_APOSTROPHES = "'\u2019"
_WORD_RE = re.compile(r"[^\W\d_]+(?:[" + _APOSTROPHES + r"][^\W\d_]+)*", re.UNICODE)
# A sentence ends at . ! ? or at a line break: notices never hard-wrap, so a line is a sentence, a heading
# or a list item, each read as one.
_SENTENCE_END_RE = re.compile(r"[.!?]+(?=\s|$)|\n")


@dataclass(frozen=True)
class Readability:
    language: str
    sentences: int
    words: int
    syllables: int
    grade: float  # Flesch-Kincaid (en) or Crawford (es) grade
    scores: dict[str, float] = field(default_factory=dict)

    @property
    def warning(self) -> str:
        if self.grade > WARN_ABOVE_GRADE:
            return f"reading grade {self.grade:.1f} is above {WARN_ABOVE_GRADE:g}"
        return ""


# ----------------------------------------------------------------------------------------- syllables


def syllables_en(word: str) -> int:
    w = re.sub(r"[^a-z]", "", word.lower())
    if not w:
        return 0
    if len(w) <= 3:
        return 1
    count = len(re.findall(r"[aeiouy]+", w))
    # Silent endings: "make", "makes", "used" (but "table", "changes", "boxes", "decided" keep theirs).
    silent = (
        (re.search(r"[^aeiouy]e$", w) and not re.search(r"[^aeiouy]le$", w))
        or (re.search(r"[^aeiouy]es$", w) and not re.search(r"(?:[sxzcg]|ch|sh)es$", w))
        or (re.search(r"[^aeiouy]ed$", w) and not re.search(r"[td]ed$", w))
    )
    if silent:
        count -= 1
    # Vowel pairs that are usually two syllables ("create", "period", "actual"), except in "-tion", "-cial".
    count += len(re.findall(r"(?<![tcsgx])(?:ia|io|eo|ua|uo|ea(?=t))", w))
    return max(1, count)


_ES_STRONG = set("aeoáéó")
_ES_WEAK = set("iuü")
_ES_WEAK_ACCENTED = set("íú")
_ES_VOWELS = _ES_STRONG | _ES_WEAK | _ES_WEAK_ACCENTED | {"y"}


def syllables_es(word: str) -> int:
    w = word.lower().strip(_APOSTROPHES)
    w = re.sub(r"[^a-záéíóúüñ]", "", w)
    if not w:
        return 0
    # The u of "que", "qui", "gue", "gui" is silent; "y" is a vowel only at the end of a word ("hay", "y").
    w = re.sub(r"(?<=[qg])u(?=[eiéí])", "", w)
    chars = [c for c in w]
    if chars and chars[-1] == "y":
        chars[-1] = "i"
    chars = ["" if c == "y" else c for c in chars]  # a consonant elsewhere
    count = 0
    prev: str | None = None  # the previous vowel in the current vowel run
    for c in chars:
        if c in _ES_STRONG or c in _ES_WEAK or c in _ES_WEAK_ACCENTED:
            if prev is None:
                count += 1
            elif (
                (prev in _ES_STRONG and c in _ES_STRONG)
                or c in _ES_WEAK_ACCENTED
                or prev in _ES_WEAK_ACCENTED
            ):
                count += 1  # hiatus: two strong vowels, or an accented weak vowel, split the syllable
            prev = c
        else:
            prev = None
    return max(1, count)


# ------------------------------------------------------------------------------------------- figures


def _counts(text: str, language: str) -> tuple[int, int, int]:
    words = _WORD_RE.findall(text)
    count_syllables = syllables_es if language == "es" else syllables_en
    syllables = sum(count_syllables(w) for w in words)
    pieces = [p for p in _SENTENCE_END_RE.split(text) if _WORD_RE.search(p)]
    return max(1, len(pieces)), len(words), syllables


def flesch_kincaid_grade(text: str) -> float:
    sentences, words, syllables = _counts(text, "en")
    if not words:
        return 0.0
    return round(0.39 * (words / sentences) + 11.8 * (syllables / words) - 15.59, 2)


def fernandez_huerta(text: str) -> float:
    sentences, words, syllables = _counts(text, "es")
    if not words:
        return 100.0
    p = 100 * syllables / words
    f = 100 * sentences / words
    return round(206.84 - 0.60 * p - 1.02 * f, 2)


def szigriszt_pazos(text: str) -> float:
    sentences, words, syllables = _counts(text, "es")
    if not words:
        return 100.0
    return round(206.835 - 62.3 * (syllables / words) - (words / sentences), 2)


def crawford_grade(text: str) -> float:
    sentences, words, syllables = _counts(text, "es")
    if not words:
        return 0.0
    p = 100 * syllables / words
    f = 100 * sentences / words
    return round(-0.205 * f + 0.049 * p - 3.407, 2)


def readability(text: str, language: str) -> Readability:
    """The reading figures of ``text`` in ``language`` ("en" or "es"; anything else is read as English)."""
    lang = "es" if language == "es" else "en"
    sentences, words, syllables = _counts(text, lang)
    if lang == "es":
        fh, sp = fernandez_huerta(text), szigriszt_pazos(text)
        return Readability(
            "es",
            sentences,
            words,
            syllables,
            grade=crawford_grade(text),
            scores={"fernandez_huerta": fh, "szigriszt_pazos": sp},
        )
    fk = flesch_kincaid_grade(text)
    return Readability("en", sentences, words, syllables, grade=fk, scores={"flesch_kincaid": fk})
