"""Where credentials come from: explicit keys, assumed roles, STS under the
transport rules, renewal after expiry.  Imports only the shared leaves.
"""
