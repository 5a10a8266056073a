"""Development tools and test support: the Stripe stand-in, the mail catcher, media peers and
network namespaces, the outbox probe, Janus configuration. Installed with the dev extra only;
never in the production image."""
