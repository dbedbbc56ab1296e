"""The ``safes3`` command: cp, ls, rm, sync, audit, policy, rekey, demo."""
