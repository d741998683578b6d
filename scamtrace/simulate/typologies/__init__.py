"""Fraud typologies: one class per way of defrauding people, each producing records and truth."""
