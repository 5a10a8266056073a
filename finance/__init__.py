"""Finance: replays the billing and payouts stores into ledgers (CSV files and a fresh
PostgreSQL projection) and reconciles them with themselves and with Stripe.

`headstore finance replay` and `headstore finance reconcile`; see finance/README.md.
"""

from pathlib import Path

DEFAULT_OUT = Path("finance-ledger")
"""Where `headstore finance replay` writes its CSV files unless told (`--out`)."""
