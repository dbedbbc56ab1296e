"""The guard core: encryption modes, store profiles, the operation table and
its inspectors, the rules, the gate on each client's HTTP session, guarded
presigning and the handlers.  Imports credentials and the shared leaves.
"""
