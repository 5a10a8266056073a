"""notifications: the mails the platform sends (verification and reset links, expert signup
links, notices), with retries, and the record of what was sent to whom."""
