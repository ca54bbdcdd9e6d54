"""Travel details for visa invitation letters: private to the registrant and organisers,
and the letter generated as a PDF from them."""

import uuid

TRAVEL = {
    "passport_name": "LI WEI",
    "nationality": "CN",
    "date_of_birth": "1985-04-12",
    "passport_number": "E12345678",
    "passport_expires_on": "2033-01-01",
    "stay_from": "2031-06-01",
    "stay_to": "2031-06-08",
}


async def test_travel_details_are_private_and_make_a_letter(client, token_issuer, h):
    operator = token_issuer.headers("operator")
    event = await h.published_event(
        client,
        operator,
        type="delegation_visit",
        title="Делегация китайских индустриальных парков",
        city="Kazan",
        venue="Technopolis Himgrad",
    )
    assert event["travel_details_collected"] is True
    url = f"/api/v1/events/{event['id']}/registrations"
    li = (await client.post(url, json={**h.person(full_name="Li Wei"), "travel": TRAVEL})).json()
    other = (await client.post(url, json=h.person())).json()
    travel_url = f"{url}/{li['id']}/travel-details"

    mine = await client.get(travel_url, headers={"X-Registration-Token": li["token"]})
    assert mine.status_code == 200 and mine.json()["passport_number"] == "E12345678"
    by_header = await client.get(travel_url, headers={"X-Registration-Token": li["token"]})
    assert by_header.status_code == 200
    assert (await client.get(travel_url, headers=operator)).status_code == 200

    # Another registrant, another user, or nobody: it does not exist.
    assert (
        await client.get(travel_url, headers={"X-Registration-Token": other["token"]})
    ).status_code == 404
    assert (await client.get(travel_url)).status_code == 404
    stranger = token_issuer.headers("resident", resident_id=uuid.uuid4())
    assert (await client.get(travel_url, headers=stranger)).status_code == 404
    manager = token_issuer.headers("park_manager", park_id=uuid.uuid4())
    assert (await client.get(travel_url, headers=manager)).status_code == 404
    assert (
        await client.get(
            f"{url}/{li['id']}/invitation-letter", headers={"X-Registration-Token": other["token"]}
        )
    ).status_code == 404
    # Registration listings never carry passport data.
    listing = (await client.get(url, headers=operator)).text
    assert "E12345678" not in listing

    # The registrant fills theirs in later; bad input names the field.
    other_travel = f"{url}/{other['id']}/travel-details"
    bad = await client.put(
        other_travel,
        headers={"X-Registration-Token": other["token"]},
        json={**TRAVEL, "nationality": "China"},
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "nationality"
    backwards = await client.put(
        other_travel,
        headers={"X-Registration-Token": other["token"]},
        json={**TRAVEL, "stay_to": "2031-05-01"},
    )
    assert backwards.status_code == 422
    saved = await client.put(
        other_travel,
        headers={"X-Registration-Token": other["token"]},
        json={**TRAVEL, "passport_name": "ANNA IVANOVA"},
    )
    assert saved.status_code == 200 and saved.json()["passport_name"] == "ANNA IVANOVA"
    assert (
        await client.put(other_travel, headers={"X-Registration-Token": li["token"]}, json=TRAVEL)
    ).status_code == 404

    letter = await client.get(
        f"{url}/{li['id']}/invitation-letter", headers={"X-Registration-Token": li["token"]}
    )
    assert letter.status_code == 200
    assert letter.headers["content-type"] == "application/pdf"
    assert letter.content.startswith(b"%PDF")
    assert b"Invitation letter: LI WEI" in letter.content  # document title
    organiser_copy = await client.get(f"{url}/{li['id']}/invitation-letter", headers=operator)
    assert organiser_copy.status_code == 200


async def test_travel_details_only_for_delegations_and_tours(client, token_issuer, h):
    operator = token_issuer.headers("operator")
    forum = await h.published_event(client, operator, type="forum")
    assert forum["travel_details_collected"] is False
    url = f"/api/v1/events/{forum['id']}/registrations"
    refused = await client.post(url, json={**h.person(), "travel": TRAVEL})
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "travel"
    reg = (await client.post(url, json=h.person())).json()
    assert (
        await client.put(
            f"{url}/{reg['id']}/travel-details",
            headers={"X-Registration-Token": reg["token"]},
            json=TRAVEL,
        )
    ).status_code == 409

    # A waitlisted delegate gets no letter until confirmed.
    tour = await h.published_event(client, operator, type="study_tour", capacity=0)
    url = f"/api/v1/events/{tour['id']}/registrations"
    waiting = (await client.post(url, json={**h.person(), "travel": TRAVEL})).json()
    assert waiting["status"] == "waitlisted"
    letter = await client.get(
        f"{url}/{waiting['id']}/invitation-letter",
        headers={"X-Registration-Token": waiting["token"]},
    )
    assert letter.status_code == 409
