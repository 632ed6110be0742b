"""live-relay: relay a newsroom's live updates into Telegram and Discord."""

__version__ = "0.1.0"
