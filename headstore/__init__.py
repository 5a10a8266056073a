"""Headstore's shared chassis: settings, event store wiring, outbox relay, idempotent
consumption, the event envelope, money, clock and metrics."""
