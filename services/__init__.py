"""Headstore services, one package each."""
