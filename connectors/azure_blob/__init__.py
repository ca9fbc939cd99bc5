"""The `azure-blob` connector: Azure Blob Storage (or Azurite), through azure-storage-blob.

The provider uploads with its own account credentials (a connection string, or an account URL
with its key); the datacage gets the blob's URL with a read-only SAS for that blob alone,
signed with the account key, and fetches it with a plain HTTP GET.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

from ..base import DEFAULT_GRANT_LIFETIME, Connector, ConnectorError, Progress, Stored
from ..http_grant import open_url, session_of
from ..registry import register

try:
    from azure.core.exceptions import (
        AzureError,
        ClientAuthenticationError,
        HttpResponseError,
        ResourceNotFoundError,
    )
    from azure.storage.blob import BlobSasPermissions, BlobServiceClient, generate_blob_sas
except ImportError:  # the `azure-blob` extra is not installed
    BlobServiceClient = None

#: azure-storage-blob 12.31 asks for a service version Azurite 3.35 does not know yet.
API_VERSION = "2025-05-05"
CONNECTION_STRING_VARIABLE = "AZURE_STORAGE_CONNECTION_STRING"


@register
class AzureBlobConnector(Connector):
    type = "azure-blob"
    title = "Azure Blob Storage"
    extra = "azure-blob"

    @classmethod
    def enabled(cls) -> bool:
        return BlobServiceClient is not None

    @classmethod
    def configuration_schema(cls) -> dict[str, Any]:
        return {
            "type": "object",
            "properties": {
                "container": {"type": "string", "title": "Container"},
                "blob": {"type": "string", "title": "Blob name of the envelope"},
                "connection_string": {"type": "string", "title": "Storage connection string"},
                "account_url": {"type": "string", "title": "Account URL (without a string)"},
                "account_key": {"type": "string", "title": "Account key (without a string)"},
            },
            "required": ["container", "blob"],
            "secret": ["connection_string", "account_key"],
        }

    def _service(self):
        options = self.configuration
        string = options.get("connection_string") or os.environ.get(CONNECTION_STRING_VARIABLE)
        try:
            if string:
                return BlobServiceClient.from_connection_string(string, api_version=API_VERSION)
            if options.get("account_url") and options.get("account_key"):
                name = options["account_url"].split("//", 1)[-1].split(".", 1)[0]
                return BlobServiceClient(
                    options["account_url"],
                    credential={"account_name": name, "account_key": options["account_key"]},
                    api_version=API_VERSION,
                )
        except ValueError as exc:
            raise ConnectorError(f"The Azure connection string is not valid: {exc}") from None
        raise ConnectorError(
            "Give the Azure storage account: connection_string, or account_url and account_key "
            "(AZURE_STORAGE_CONNECTION_STRING is read when no option is given)."
        )

    def _container(self):
        return self._service().get_container_client(self.configuration["container"])

    def test_connection(self) -> None:
        container = self.configuration["container"]
        try:
            self._container().get_container_properties()
        except ResourceNotFoundError:
            raise ConnectorError(f"The Azure container {container!r} does not exist.") from None
        except ClientAuthenticationError:
            raise ConnectorError(
                f"The Azure credentials do not work for the container {container!r}: check the "
                "account name and key."
            ) from None
        except HttpResponseError as exc:
            raise ConnectorError(_explain(exc, container)) from None
        except AzureError as exc:
            raise ConnectorError(f"Azure Blob Storage could not be reached: {exc}") from None

    def upload(self, source: Path, progress: Progress | None = None) -> Stored:
        self.test_connection()
        blob = self._container().get_blob_client(self.configuration["blob"])
        done = [0]

        def hook(current: int, _total: int | None) -> None:
            if progress:
                progress(current - done[0])
            done[0] = current

        try:
            with open(source, "rb") as data:
                blob.upload_blob(data, overwrite=True, max_concurrency=2, progress_hook=hook)
        except AzureError as exc:
            raise ConnectorError(f"The upload to {blob.url} failed: {exc}") from None
        return Stored(blob.url, source.stat().st_size)

    def read_grant(self, stored: Stored, lifetime: timedelta, now: datetime) -> dict[str, str]:
        service = self._service()
        key = service.credential.account_key
        expires = now + min(lifetime, DEFAULT_GRANT_LIFETIME)
        sas = generate_blob_sas(
            account_name=service.account_name,
            container_name=self.configuration["container"],
            blob_name=self.configuration["blob"],
            account_key=key,
            permission=BlobSasPermissions(read=True),  # read only, this blob only
            expiry=expires,
            start=now - timedelta(minutes=5),  # clocks differ
        )
        return {"url": f"{stored.location}?{sas}", "expires": expires.isoformat()}

    @classmethod
    @contextmanager
    def open_grant(
        cls, grant: Mapping[str, str], *, timeout: float = 30.0, solid_client: Any = None
    ) -> Iterator[tuple[BinaryIO, int | None]]:
        with open_url(
            grant, "Azure Blob", timeout=timeout, session=session_of(solid_client)
        ) as opened:
            yield opened


def _explain(exc: Exception, container: str) -> str:
    code = getattr(exc, "error_code", None) or getattr(exc, "status_code", "")
    code = getattr(code, "value", code)  # a StorageErrorCode enum, or a plain string
    if str(code) in ("AuthenticationFailed", "AuthorizationFailure", "403") or (
        getattr(exc, "status_code", None) == 403
    ):
        return f"The Azure credentials do not work for the container {container!r} ({code})."
    return f"Azure refused the request ({code or type(exc).__name__})."
