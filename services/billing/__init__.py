"""The billing service: per-session bills, card holds and captures, commission, cards on file."""
