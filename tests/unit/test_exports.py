"""The public surface is exactly what ``__all__`` names: pinned here."""

import safes3

EXPECTED = {
    "PROFILES",
    "SSEC",
    "SSEKMS",
    "SSES3",
    "ACLRefusedError",
    "AssumeRole",
    "BulkResult",
    "BulkTransferError",
    "CABundleError",
    "Config",
    "DownloadResult",
    "ConfigurationError",
    "CredentialsError",
    "Encryption",
    "EncryptionConfigError",
    "EncryptionConflictError",
    "EncryptionNotAppliedError",
    "EncryptionPolicyError",
    "InsecureTransportError",
    "IntegrityError",
    "ObjectChangedError",
    "OperationRefusedError",
    "RoleAssumptionError",
    "SafeS3Error",
    "Session",
    "StaticCredentials",
    "StaticCredentialsRefusedError",
    "StoreProfile",
    "TransferClientError",
    "TransferError",
    "TransferSettings",
    "UploadFailedError",
    "UploadResult",
    "__version__",
    "client",
    "copy_tree",
    "download",
    "fsspec_storage_options",
    "is_guarded",
    "upload",
}


def test_all_is_pinned() -> None:
    assert set(safes3.__all__) == EXPECTED


def test_every_export_exists_and_modules_are_private() -> None:
    for name in safes3.__all__:
        assert hasattr(safes3, name), name
    public_modules = [
        n for n, v in vars(safes3).items() if type(v).__name__ == "module" and not n.startswith("_")
    ]
    assert public_modules == []


def test_one_exception_root() -> None:
    errors = [getattr(safes3, n) for n in safes3.__all__ if n.endswith("Error")]
    for exc in errors:
        assert issubclass(exc, safes3.SafeS3Error), exc
