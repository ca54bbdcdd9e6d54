"""Visa invitation letters as PDF (fpdf2). Delegations write their names and
organisations in Cyrillic, Latin or Chinese: the letter font covers the first two, and
fallback fonts the rest (fpdf2 switches font per glyph)."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from fpdf import FPDF

from ..config import EventsSettings
from .service import LetterData

log = logging.getLogger(__name__)


def _fonts(pdf: FPDF, settings: EventsSettings) -> Callable[[str], str]:
    """Load the letter font and its fallbacks; the function that readies text for them
    (a character no font has is logged, never dropped unnoticed)."""
    if not os.path.exists(settings.letter_font_path):
        log.error(
            "letter font %s is missing: letters use a core PDF font, non-Latin-1 text is "
            "replaced with '?'",
            settings.letter_font_path,
        )
        pdf.set_font("Helvetica", size=11)
        return lambda s: s.encode("latin-1", "replace").decode("latin-1")
    pdf.add_font("Letter", "", settings.letter_font_path)
    covered = set(pdf.fonts["letter"].cmap)
    fallbacks = []
    for n, path in enumerate(p for p in settings.letter_fallback_font_paths if os.path.exists(p)):
        family = f"Fallback{n}"
        pdf.add_font(family, "", path)
        covered |= set(pdf.fonts[family.lower()].cmap)
        fallbacks.append(family)
    pdf.set_fallback_fonts(fallbacks)
    pdf.set_font("Letter", size=11)

    def text(s: str) -> str:
        missing = {c for c in s if ord(c) not in covered and not c.isspace()}
        if missing:
            log.warning(
                "letter text has characters no installed font covers: %s (install the "
                "fonts of deploy/system-packages.txt or set LETTER_FALLBACK_FONT_PATHS)",
                " ".join(f"U+{ord(c):04X}" for c in sorted(missing)),
            )
        return s

    return text


def invitation_letter_pdf(letter: LetterData, settings: EventsSettings) -> bytes:
    event, registration, details = letter.event, letter.registration, letter.details
    pdf = FPDF(format="A4")
    pdf.set_margins(20, 20, 20)
    pdf.add_page()
    text = _fonts(pdf, settings)

    pdf.set_title(f"Invitation letter: {details.passport_name}")
    pdf.set_subject(f"{event.title} ({details.passport_name})")
    pdf.set_author(settings.letter_issuer)
    pdf.set_creator("Innopark events")

    tz = ZoneInfo(event.timezone)
    starts = event.starts_at.astimezone(tz)
    ends = event.ends_at.astimezone(tz)
    place = ", ".join(p for p in (event.venue, event.city, event.country) if p) or "to be announced"
    kind = "delegation visit" if event.type == "delegation_visit" else "study tour"

    def line(s: str, h: float = 6) -> None:
        pdf.multi_cell(0, h, text(s), new_x="LMARGIN", new_y="NEXT")

    pdf.set_font_size(14)
    line(settings.letter_issuer, 8)
    pdf.set_font_size(11)
    line(f"Date: {datetime.now(tz).date().isoformat()}")
    line(f"Reference: {registration.id}")
    pdf.ln(6)
    pdf.set_font_size(13)
    line("LETTER OF INVITATION", 8)
    pdf.set_font_size(11)
    pdf.ln(2)
    line("To the consular section concerned,")
    pdf.ln(2)
    line(
        f"{settings.letter_issuer} invites the person named below to take part in the "
        f'{kind} "{event.title}", held in {place} from {starts:%d %B %Y} to '
        f"{ends:%d %B %Y}. We ask you to issue the visa needed for this stay."
    )
    pdf.ln(3)
    rows = [
        ("Name (as in passport)", details.passport_name),
        ("Nationality", details.nationality),
        ("Date of birth", details.date_of_birth.isoformat()),
        ("Passport number", details.passport_number),
        (
            "Passport valid until",
            details.passport_expires_on.isoformat() if details.passport_expires_on else "-",
        ),
        ("Organisation", registration.organisation or "-"),
        ("Position", registration.position or "-"),
        ("Dates of stay", f"{details.stay_from.isoformat()} to {details.stay_to.isoformat()}"),
    ]
    for label, value in rows:
        pdf.cell(60, 7, text(label + ":"))
        pdf.cell(0, 7, text(str(value)), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    line(
        "The association takes responsibility for the programme of the visit. The participant "
        "covers travel, accommodation and medical insurance unless agreed otherwise."
    )
    pdf.ln(10)
    line(settings.letter_signatory)
    line(settings.letter_issuer)
    return bytes(pdf.output())
