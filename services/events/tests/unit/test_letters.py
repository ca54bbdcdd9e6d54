"""Invitation letters in every script the association meets: the names and organisations
of Chinese, Russian and Latin-script delegates are in the letter's text, as a consulate's
clerk (or a PDF text extractor) reads it."""

from __future__ import annotations

import io
import logging

from innopark_events.config import EventsSettings
from innopark_events.travel import letters
from innopark_events.travel import service as travel
from pypdf import PdfReader

SETTINGS = EventsSettings(database_url="postgresql://unused/unused")
DELEGATES = [
    ("ZHANG WEI", "CN", "中国科学院深圳先进技术研究院", "技术转移部主任"),
    ("IVANOVA ANNA", "RU", "Технополис «Химград»", "Руководитель проектов"),
    ("MÜLLER JÖRG", "DE", "Fraunhofer-Institut für Produktionstechnik", "Gruppenleiter"),
]


def _text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


async def _letter(db_session, make_event, register, name, nationality, organisation, position):
    visit = await make_event(type="delegation_visit", title="Delegation: Shenzhen high-tech parks")
    seated = await register(
        visit,
        organisation=organisation,
        position=position,
        travel={
            "passport_name": name,
            "nationality": nationality,
            "date_of_birth": "1980-02-29",
            "passport_number": "E7654321",
            "stay_from": "2031-09-01",
            "stay_to": "2031-09-06",
        },
    )
    return await travel.invitation_letter(
        session=db_session,
        principal=None,
        token=seated.token,
        event_id=visit.id,
        registration_id=seated.registration.id,
    )


async def test_each_script_reaches_the_letters_text(db_session, make_event, register, caplog):
    for name, nationality, organisation, position in DELEGATES:
        letter = await _letter(
            db_session, make_event, register, name, nationality, organisation, position
        )
        with caplog.at_level(logging.WARNING, logger=letters.__name__):
            text = _text(letters.invitation_letter_pdf(letter, SETTINGS))
        for expected in (name, organisation, position, "Delegation: Shenzhen high-tech parks"):
            assert expected in text, f"{expected!r} is not in the letter:\n{text}"
        ours = [r.getMessage() for r in caplog.records if r.name == letters.__name__]
        assert not ours, ours


async def test_without_a_chinese_font_the_loss_is_logged(db_session, make_event, register, caplog):
    """A machine without the fallback fonts still gives a letter, and says what it lost."""
    name, nationality, organisation, position = DELEGATES[0]
    letter = await _letter(
        db_session, make_event, register, name, nationality, organisation, position
    )
    bare = SETTINGS.model_copy(update={"letter_fallback_font_paths": []})
    with caplog.at_level(logging.WARNING, logger=letters.__name__):
        text = _text(letters.invitation_letter_pdf(letter, bare))
    assert organisation not in text
    assert any(
        "U+4E2D" in r.getMessage() for r in caplog.records if r.name == letters.__name__
    )  # 中
