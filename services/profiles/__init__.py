"""profiles: accounts and sign-in, expert applications and trustee review, expert profiles,
categories."""
