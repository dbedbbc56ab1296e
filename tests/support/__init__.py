"""Offline helpers shared by the unit tests: a stand-in transport and a parameter builder.

Nothing here talks to a network or a store.  ``transport`` answers a client's
requests below safes3's gate; ``params`` builds valid parameters for any
operation of botocore's S3 model from its input shape.
"""
