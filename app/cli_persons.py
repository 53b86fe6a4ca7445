"""``xyb persons``: what a clerk at a service counter records about a resident's account."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from app.cli_common import fail, in_transaction, out, record_cli_change, settings_or_exit

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

persons_cli = typer.Typer(help="Residents' accounts (persons).", no_args_is_help=True)


@persons_cli.command("verify")
def persons_verify(
    id_number: Annotated[
        str, typer.Option("--id-number", metavar="ID", help="The ID number on the card (GB 11643).")
    ],
    name: Annotated[str, typer.Option(metavar="NAME", help="The name on the ID card.")],
    phone: Annotated[
        str | None,
        typer.Option(
            metavar="PHONE", help="The resident's mobile number, to become the account's."
        ),
    ] = None,
) -> None:
    """Record that a clerk verified the resident in person (the ID card and its holder) and bind
    the account of the card's number to them: the account takes the card's name (and --phone),
    gets a new password, printed once for the resident, every earlier session is ended, and the
    assurance becomes 2, which services such as the e-licenses demand."""
    from app.identity.accounts import InPersonCheckFailed, InPersonVerified, verify_in_person
    from app.identity.crypto import DataCipher

    settings = settings_or_exit()
    cipher = DataCipher.from_text(settings.resolved_data_key)

    async def work(session: AsyncSession) -> InPersonVerified:
        return await verify_in_person(session, cipher, id_number=id_number, name=name, phone=phone)

    try:
        done = in_transaction(settings, work)
    except InPersonCheckFailed as exc:  # rolled back
        fail(str(exc))
    person_id = done.person.id
    # The audit record names the account, never the ID number, name, phone or password.
    record_cli_change(
        settings,
        action="person.verify-in-person",
        object=f"person:{person_id}",
        summary={
            "assurance": 2,
            "renamed": done.renamed,
            "sessions_ended": done.sessions_ended,
            "phone_changed": done.phone_changed,
        },
    )
    lines = [f"person {person_id} verified in person: assurance 2 from their next sign-in"]
    if done.renamed:
        lines.append("the account's name was corrected to the name on the ID card")
    if done.phone_changed:
        lines.append("the account's phone was replaced by the one given")
    ended = done.sessions_ended
    lines.append(
        f"{ended} earlier session{'s' if ended != 1 else ''} ended: whoever held the account"
        " before is signed out"
        if ended
        else "no earlier session was open"
    )
    lines.append(
        f"new password (tell it to the resident now; it is not shown again): {done.password}"
    )
    for line in lines:
        out.print(line, markup=False, highlight=False)
