"""Visa invitation letters as PDF (fpdf2; a Unicode TTF font for Cyrillic names)."""

from __future__ import annotations

import os
from datetime import datetime
from zoneinfo import ZoneInfo

from fpdf import FPDF

from ..config import EventsSettings
from .service import LetterData


def invitation_letter_pdf(letter: LetterData, settings: EventsSettings) -> bytes:
    event, registration, details = letter.event, letter.registration, letter.details
    pdf = FPDF(format="A4")
    pdf.set_margins(20, 20, 20)
    pdf.add_page()
    if os.path.exists(settings.letter_font_path):
        pdf.add_font("Letter", "", settings.letter_font_path)
        pdf.set_font("Letter", size=11)

        def text(s: str) -> str:
            return s
    else:
        pdf.set_font("Helvetica", size=11)

        def text(s: str) -> str:
            return s.encode("latin-1", "replace").decode("latin-1")

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
