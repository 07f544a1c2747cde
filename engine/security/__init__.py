"""Who may do what: SMART scopes, institutions, consent and break-the-glass."""
