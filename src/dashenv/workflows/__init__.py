"""Workflows: observe, plan, apply. Each command hands over to one function here."""
