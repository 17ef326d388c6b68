"""Sounds: system prompts per language (generated with espeak-ng) and admin uploads."""
