"""The one exception tree of safes3.

Every refusal or failure that safes3 itself decides raises a subclass of
:class:`SafeS3Error`; errors the *server* returns stay botocore's
``ClientError`` so existing ``except ClientError`` code keeps working.

::

    SafeS3Error
    ├── ConfigurationError          bad settings, found at construction
    │   ├── CABundleError           CA bundle missing, unparsable, not a CA, expired
    │   └── EncryptionConfigError   e.g. an SSE-C key that is not 32 bytes
    ├── InsecureTransportError      http:// endpoint, verify=False, non-HTTPS request
    ├── ACLRefusedError             any ACL-changing call or ACL/Grant* parameter
    ├── OperationRefusedError       an unknown operation, or one that loosens access or
    │                               encryption and was not allowed in the settings
    ├── EncryptionPolicyError
    │   ├── EncryptionConflictError    caller's explicit SSE contradicts the policy
    │   └── EncryptionNotAppliedError  the server's answer does not prove encryption
    ├── CredentialsError            credential configuration or STS failures
    │   ├── StaticCredentialsRefusedError
    │   └── RoleAssumptionError
    └── TransferError               a managed transfer failed (upload aborted)
        ├── IntegrityError          checksums disagree
        │   └── ObjectChangedError  the object was replaced while it was downloaded
        ├── BulkTransferError       objects of a bulk run not transferred (carries the result)
        ├── UploadFailedError       a client's upload_file/upload_fileobj failed
        │                           (also boto3's S3UploadFailedError)
        └── TransferClientError     a client's download_*/copy got an error answer
                                    (also botocore's ClientError, with its response)

Messages name what was refused and what to do instead; they never contain
key material, secret keys or session tokens.
"""

from __future__ import annotations

from typing import Any

from boto3.exceptions import S3UploadFailedError
from botocore.exceptions import ClientError

__all__ = [
    "ACLRefusedError",
    "BulkTransferError",
    "CABundleError",
    "ConfigurationError",
    "CredentialsError",
    "EncryptionConfigError",
    "EncryptionConflictError",
    "EncryptionNotAppliedError",
    "EncryptionPolicyError",
    "InsecureTransportError",
    "IntegrityError",
    "OperationRefusedError",
    "RoleAssumptionError",
    "SafeS3Error",
    "StaticCredentialsRefusedError",
    "TransferClientError",
    "TransferError",
    "UploadFailedError",
]


class SafeS3Error(Exception):
    """Root of every exception safes3 raises itself."""


class ConfigurationError(SafeS3Error, ValueError):
    """The settings given to safes3 cannot be used safely."""


class CABundleError(ConfigurationError):
    """The CA bundle is missing, not PEM, holds no CA certificate, or is expired."""


class EncryptionConfigError(ConfigurationError):
    """An encryption mode was built with unusable parameters."""


class InsecureTransportError(SafeS3Error):
    """A request would leave the process without verified TLS."""


class ACLRefusedError(SafeS3Error):
    """An ACL-changing operation or an ACL/Grant* parameter was refused."""


class OperationRefusedError(SafeS3Error):
    """An operation was refused before sending: unknown to safes3, or loosening access.

    ``operation`` names it (None when the request matched no S3 operation);
    the message names the setting that would allow it, where one does.
    """

    def __init__(self, message: str, *, operation: str | None) -> None:
        super().__init__(message)
        self.operation = operation


class EncryptionPolicyError(SafeS3Error):
    """A call does not satisfy the client's encryption policy."""


class EncryptionConflictError(EncryptionPolicyError):
    """The caller asked for encryption that contradicts the client's policy."""


class EncryptionNotAppliedError(EncryptionPolicyError):
    """The server's answer does not show the expected encryption.

    The object (or multipart upload) the write left behind has been deleted
    (or aborted) before this is raised; ``cleaned_up`` says whether that worked.
    """

    def __init__(self, message: str, *, cleaned_up: bool) -> None:
        super().__init__(message)
        self.cleaned_up = cleaned_up


class CredentialsError(SafeS3Error):
    """Credentials could not be obtained or are not allowed."""


class StaticCredentialsRefusedError(CredentialsError):
    """Long-term access keys were found where temporary credentials are required."""


class RoleAssumptionError(CredentialsError):
    """STS AssumeRole failed; the message says why and what to change.

    ``reason`` names the cause for code that reacts to it: ``unknown-role``,
    ``not-trusted``, ``duration``, ``unreachable``, ``mfa``, ``no-source``
    or ``rejected``.
    """

    def __init__(self, message: str, *, reason: str = "rejected") -> None:
        super().__init__(message)
        self.reason = reason


class TransferError(SafeS3Error):
    """A managed transfer failed; its multipart upload has been aborted."""


class IntegrityError(TransferError):
    """Data read back or acknowledged by the server does not match what was sent."""


class ObjectChangedError(IntegrityError):
    """The object was replaced while it was being downloaded; nothing mixed was kept."""


class BulkTransferError(TransferError):
    """Some objects of a bulk copy or sync were not transferred; ``result`` names them."""

    def __init__(self, message: str, result: object) -> None:
        super().__init__(message)
        self.result = result


class UploadFailedError(TransferError, S3UploadFailedError):
    """A guarded client's ``upload_file``/``upload_fileobj`` failed at the store.

    It is boto3's ``S3UploadFailedError`` too, so code written for boto3
    keeps catching it; ``__cause__`` is the engine's error.
    """


class TransferClientError(TransferError, ClientError):
    """A guarded client's ``download_*``/``copy`` failed on the store's error answer.

    It is botocore's ``ClientError`` too, with the store's ``response`` and
    ``operation_name``, so ``except ClientError`` and checks of
    ``response["Error"]["Code"]`` (``"404"``, ``"NoSuchKey"``...) keep working.
    """

    def __init__(self, message: str, response: Any, operation_name: str) -> None:
        ClientError.__init__(self, response, operation_name)
        self.args = (message,)

    def __reduce__(self) -> Any:
        return type(self), (self.args[0], self.response, self.operation_name)
