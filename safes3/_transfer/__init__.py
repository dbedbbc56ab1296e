"""The streaming engine: parts, journals, retries, uploads, downloads, and the
client's boto3 transfer methods on top of them.  Imports core.
"""
