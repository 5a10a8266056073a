"""Outside systems the calls service talks to."""
