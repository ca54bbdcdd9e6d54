"""Search text: Cyrillic↔Latin transliteration so «Химград» and "Himgrad" find each other.

Names are stored with their transliterations (both the common "kh/ts/ya" spelling and the
looser "h/c/ia" one); a query is transliterated too, so a Latin query meets a Cyrillic
name and a Cyrillic query meets a Latin brand name.
"""

from __future__ import annotations

from collections.abc import Iterable

# letter: (common spelling, looser spelling)
_CYRILLIC: dict[str, tuple[str, str]] = {
    "а": ("a", "a"),
    "б": ("b", "b"),
    "в": ("v", "v"),
    "г": ("g", "g"),
    "д": ("d", "d"),
    "е": ("e", "e"),
    "ё": ("e", "yo"),
    "ж": ("zh", "j"),
    "з": ("z", "z"),
    "и": ("i", "i"),
    "й": ("y", "i"),
    "к": ("k", "k"),
    "л": ("l", "l"),
    "м": ("m", "m"),
    "н": ("n", "n"),
    "о": ("o", "o"),
    "п": ("p", "p"),
    "р": ("r", "r"),
    "с": ("s", "s"),
    "т": ("t", "t"),
    "у": ("u", "u"),
    "ф": ("f", "f"),
    "х": ("kh", "h"),
    "ц": ("ts", "c"),
    "ч": ("ch", "ch"),
    "ш": ("sh", "sh"),
    "щ": ("shch", "sch"),
    "ъ": ("", ""),
    "ы": ("y", "y"),
    "ь": ("", ""),
    "э": ("e", "e"),
    "ю": ("yu", "iu"),
    "я": ("ya", "ia"),
    # Tatar, Bashkir, Kazakh, Ukrainian and Belarusian letters common in names
    "ә": ("a", "a"),
    "ө": ("o", "o"),
    "ү": ("u", "u"),
    "җ": ("zh", "j"),
    "ң": ("n", "ng"),
    "һ": ("h", "h"),
    "і": ("i", "i"),
    "ї": ("yi", "i"),
    "є": ("ye", "e"),
    "ґ": ("g", "g"),
    "ў": ("u", "w"),
    "қ": ("k", "q"),
    "ғ": ("g", "gh"),
    "ұ": ("u", "u"),
}

_TABLES = [str.maketrans({c: pair[i] for c, pair in _CYRILLIC.items()}) for i in (0, 1)]


def transliterations(text: str) -> list[str]:
    """The distinct Latin spellings of `text` (lower-cased); `[]` when it has no Cyrillic."""
    lowered = text.lower()
    if not any(c in _CYRILLIC for c in lowered):
        return []
    out: list[str] = []
    for table in _TABLES:
        spelled = lowered.translate(table)
        if spelled not in out:
            out.append(spelled)
    return out


def search_names(names: Iterable[str | None]) -> str:
    """Text indexed as a park's or resident's names: the names and their transliterations."""
    parts: list[str] = []
    for name in names:
        if name:
            parts.append(name.lower())
            parts.extend(transliterations(name))
    return " ".join(parts)


def search_body(*chunks: str | Iterable[str] | None) -> str:
    parts: list[str] = []
    for chunk in chunks:
        if not chunk:
            continue
        parts.extend([chunk] if isinstance(chunk, str) else list(chunk))
    return "\n".join(parts)
