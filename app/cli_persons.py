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
) -> None:
    """Record that a clerk verified the resident in person (the ID card and its holder): the
    account's assurance becomes 2, which services such as the e-licenses demand."""
    from app.identity.accounts import InPersonCheckFailed, verify_in_person
    from app.identity.crypto import DataCipher

    settings = settings_or_exit()
    cipher = DataCipher.from_text(settings.resolved_data_key)

    async def work(session: AsyncSession) -> int:
        person = await verify_in_person(session, cipher, id_number=id_number, name=name)
        return person.id

    try:
        person_id = in_transaction(settings, work)
    except InPersonCheckFailed as exc:  # rolled back
        fail(str(exc))
    # The audit record names the account, never the ID number.
    record_cli_change(
        settings,
        action="person.verify-in-person",
        object=f"person:{person_id}",
        summary={"assurance": 2},
    )
    out.print(
        f"person {person_id} verified in person: assurance 2 from their next sign-in",
        markup=False,
        highlight=False,
    )
