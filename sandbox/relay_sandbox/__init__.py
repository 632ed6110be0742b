"""Local emulators of the Telegram Bot API and of Discord (REST and gateway)."""
