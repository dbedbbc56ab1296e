"""safes3: a genuine boto3 S3 client on which insecure use cannot happen.

``safes3.client(...)`` returns a real botocore S3 client that sends nothing
without verified TLS, puts the chosen encryption on every write and proves
it from the response, refuses every ACL change, and runs on temporary
credentials.  Everything public is listed in ``__all__``; the modules
behind it are private.
"""

from safes3._bulk._bulk import copy_tree
from safes3._bulk._state import BulkResult
from safes3._config import Config
from safes3._core._encryption import SSEC, SSEKMS, SSES3, Encryption
from safes3._core._profiles import PROFILES, StoreProfile
from safes3._credentials._role import AssumeRole
from safes3._credentials._static import StaticCredentials
from safes3._exceptions import (
    ACLRefusedError,
    BulkTransferError,
    CABundleError,
    ConfigurationError,
    CredentialsError,
    EncryptionConfigError,
    EncryptionConflictError,
    EncryptionNotAppliedError,
    EncryptionPolicyError,
    InsecureTransportError,
    IntegrityError,
    ObjectChangedError,
    OperationRefusedError,
    RoleAssumptionError,
    SafeS3Error,
    StaticCredentialsRefusedError,
    TransferClientError,
    TransferError,
    UploadFailedError,
)
from safes3._filesystem._config import storage_options as fsspec_storage_options
from safes3._session import Session, client, is_guarded
from safes3._transfer._download import DownloadResult, download
from safes3._transfer._settings import TransferSettings
from safes3._transfer._upload import UploadResult, upload

__version__ = "0.1.0"

__all__ = [
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
    "ConfigurationError",
    "CredentialsError",
    "DownloadResult",
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
]
