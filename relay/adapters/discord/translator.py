"""The slash commands' descriptions in the members' languages: discord.py asks a `Translator`
for each string of the command tree and each Discord locale when it syncs, and sends what it
answers as the commands' `description_localizations` (names stay as they are: one command is
typed the same in every language)."""

from __future__ import annotations

from discord import Locale, app_commands

from relay.i18n import DEFAULT, language_of, translate


class CatalogueTranslator(app_commands.Translator):
    """Descriptions and option descriptions from relay/locale, for every catalogue but English."""

    async def translate(
        self,
        string: app_commands.locale_str,
        locale: Locale,
        context: app_commands.TranslationContextTypes,
    ) -> str | None:
        if context.location not in _DESCRIBED:
            return None  # a command's or an option's name, a choice's: the same everywhere
        language = language_of(locale.value)
        if language == DEFAULT:
            return None  # the descriptions themselves (and a language with no catalogue)
        said = translate(language).gettext(string.message)
        return said if said != string.message else None


_DESCRIBED = (
    app_commands.TranslationContextLocation.command_description,
    app_commands.TranslationContextLocation.group_description,
    app_commands.TranslationContextLocation.parameter_description,
)
