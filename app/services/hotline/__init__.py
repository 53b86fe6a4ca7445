"""The 12345 hotline and 好差评 as the gateway keeps them: deadlines and cards, the system's status
callbacks, ratings and follow-ups, and the operators' figures."""
