"""Outside systems the notifications service talks to."""
