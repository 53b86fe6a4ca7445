"""The audit log (issue 11): hash-chained records of every call and admin action, signed
checkpoints, residents' personal-data reads, and their verification.

- ``chain``: the exact hashing and signing rules every writer and verifier agrees on;
- ``digests``: the request digest every gateway answer carries (``Xyb-Request-Digest``);
- ``log``: ``AuditLog``, the access-event sink that writes the records in batches;
- ``records``: reading chains, checkpoints and keys back;
- ``actions``: admin actions and personal-data reads handed over by routes and the CLI;
- ``verify``, ``export``, ``retention``: checking chains, JSON Lines exports, purging;
- ``queries``, ``schemas``: the operators' and residents' views.
"""
