"""Hourglass kit: split federated learning with shared server models (EuroSys 2025)."""
