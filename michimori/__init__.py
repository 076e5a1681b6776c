"""Michimori (道守): road-fixture telemetry and drone inspection."""

__version__ = "0.1.0"
