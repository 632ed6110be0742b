"""Permission computation: roles, administrator, owner, overwrite precedence, implicit denials."""

from __future__ import annotations

from relay_sandbox.discord import permissions as P
from relay_sandbox.discord.permissions import MEMBER_OVERWRITE, ROLE_OVERWRITE, Overwrite

GUILD, OWNER, ALICE, MODS, WRITERS = 1, 2, 3, 10, 11
ROLES = {GUILD: P.VIEW_CHANNEL | P.SEND_MESSAGES, MODS: P.MANAGE_MESSAGES, WRITERS: P.EMBED_LINKS}


def perms(
    member: int, roles: list[int], overwrites: list[Overwrite], role_perms: dict[int, int] = ROLES
) -> int:
    base = P.base_permissions(
        guild_id=GUILD,
        owner_id=OWNER,
        member_id=member,
        member_roles=roles,
        role_permissions=role_perms,
    )
    return P.channel_permissions(
        base, guild_id=GUILD, member_id=member, member_roles=roles, overwrites=overwrites
    )


def test_base_is_everyone_plus_roles() -> None:
    got = perms(ALICE, [MODS, WRITERS], [])
    assert got == P.VIEW_CHANNEL | P.SEND_MESSAGES | P.MANAGE_MESSAGES | P.EMBED_LINKS


def test_owner_and_administrator_get_everything_despite_overwrites() -> None:
    deny_all = [
        Overwrite(GUILD, ROLE_OVERWRITE, deny=P.ALL),
        Overwrite(OWNER, MEMBER_OVERWRITE, deny=P.ALL),
    ]
    assert perms(OWNER, [], deny_all) == P.ALL
    admin_roles = {**ROLES, MODS: P.ADMINISTRATOR}
    assert (
        perms(ALICE, [MODS], [Overwrite(ALICE, MEMBER_OVERWRITE, deny=P.ALL)], admin_roles) == P.ALL
    )


def test_overwrite_order_everyone_then_roles_then_member() -> None:
    everyone_denies = Overwrite(GUILD, ROLE_OVERWRITE, deny=P.SEND_MESSAGES)
    role_allows = Overwrite(WRITERS, ROLE_OVERWRITE, allow=P.SEND_MESSAGES)
    member_denies = Overwrite(ALICE, MEMBER_OVERWRITE, deny=P.SEND_MESSAGES)
    assert not perms(ALICE, [], [everyone_denies]) & P.SEND_MESSAGES
    assert perms(ALICE, [WRITERS], [everyone_denies, role_allows]) & P.SEND_MESSAGES
    assert (
        not perms(ALICE, [WRITERS], [role_allows, everyone_denies, member_denies]) & P.SEND_MESSAGES
    )


def test_role_allow_beats_another_roles_deny() -> None:
    # overwrites of all the member's roles are combined: allow wins over deny among roles
    mods_deny = Overwrite(MODS, ROLE_OVERWRITE, deny=P.SEND_MESSAGES)
    writers_allow = Overwrite(WRITERS, ROLE_OVERWRITE, allow=P.SEND_MESSAGES)
    assert perms(ALICE, [MODS, WRITERS], [mods_deny, writers_allow]) & P.SEND_MESSAGES
    assert not perms(ALICE, [MODS], [mods_deny, writers_allow]) & P.SEND_MESSAGES


def test_implicit_denials() -> None:
    no_view = Overwrite(GUILD, ROLE_OVERWRITE, deny=P.VIEW_CHANNEL)
    assert perms(ALICE, [MODS, WRITERS], [no_view]) == 0
    no_send = Overwrite(GUILD, ROLE_OVERWRITE, deny=P.SEND_MESSAGES)
    got = perms(ALICE, [WRITERS], [no_send])
    assert got & P.VIEW_CHANNEL and not got & P.EMBED_LINKS  # embeds need SEND_MESSAGES
