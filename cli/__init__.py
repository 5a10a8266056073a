"""The command line (`headstore …`): wires services, relays, migrations and finance together."""
