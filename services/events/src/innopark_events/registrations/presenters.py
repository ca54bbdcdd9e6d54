"""Registrations and seat counts as the API answers them."""

from __future__ import annotations

from ..models import Registration
from .queries import Seats
from .schemas import RegistrationCreated, RegistrationRead, SeatCounts
from .service import NewRegistration


def present_registration(
    registration: Registration, *, waitlist_position: int | None = None
) -> RegistrationRead:
    read = RegistrationRead.model_validate(registration)
    if waitlist_position is not None:
        read = read.model_copy(update={"waitlist_position": waitlist_position})
    return read


def present_new_registration(new: NewRegistration, *, cancel_url: str) -> RegistrationCreated:
    return RegistrationCreated(
        **present_registration(new.registration).model_dump(),
        token=new.token,
        cancel_url=cancel_url,
    )


def present_seats(seats: Seats) -> SeatCounts:
    return SeatCounts(
        capacity=seats.capacity,
        confirmed=seats.confirmed,
        attended=seats.attended,
        waitlisted=seats.waitlisted,
        pending=seats.pending,
        available=seats.available,
    )
