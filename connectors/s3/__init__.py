"""The `s3` connector: Amazon S3 or any S3-compatible store (MinIO, moto...), through boto3.

The provider uploads with its own credentials (boto3's usual chain: environment, profile, or
the options); the datacage gets a presigned GET URL for the one key, valid for at most seven
days (the SigV4 limit), and fetches it with a plain HTTP GET.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

from ..base import DEFAULT_GRANT_LIFETIME, Connector, ConnectorError, Progress, Stored
from ..http_grant import open_url, session_of
from ..registry import register

try:
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError
except ImportError:  # the `s3` extra is not installed: the connector reports itself disabled
    boto3 = None


@register
class S3Connector(Connector):
    type = "s3"
    title = "Amazon S3 or an S3-compatible store"
    extra = "s3"

    @classmethod
    def enabled(cls) -> bool:
        return boto3 is not None

    @classmethod
    def configuration_schema(cls) -> dict[str, Any]:
        return {
            "type": "object",
            "properties": {
                "bucket": {"type": "string", "title": "Bucket"},
                "key": {"type": "string", "title": "Object key of the envelope"},
                "region": {"type": "string", "title": "Region", "default": "us-east-1"},
                "endpoint_url": {"type": "string", "title": "Endpoint (S3-compatible stores)"},
                "access_key_id": {"type": "string", "title": "Access key id"},
                "secret_access_key": {"type": "string", "title": "Secret access key"},
            },
            "required": ["bucket", "key"],
            "secret": ["secret_access_key"],
        }

    def _client(self):
        options = self.configuration
        return boto3.client(
            "s3",
            region_name=options["region"],
            endpoint_url=options.get("endpoint_url"),
            aws_access_key_id=options.get("access_key_id"),
            aws_secret_access_key=options.get("secret_access_key"),
            # Path style: works for every S3-compatible store and for buckets with dots.
            config=Config(
                s3={"addressing_style": "path"},
                signature_version="s3v4",
                retries={"max_attempts": 2},
            ),
        )

    def test_connection(self) -> None:
        bucket = self.configuration["bucket"]
        try:
            self._client().head_bucket(Bucket=bucket)
        except NoCredentialsError:
            raise ConnectorError(
                "No S3 credentials were found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
                "(or a profile), or give access_key_id and secret_access_key."
            ) from None
        except ClientError as exc:
            raise ConnectorError(_explain(exc, bucket)) from None
        except BotoCoreError as exc:
            raise ConnectorError(f"The S3 endpoint could not be reached: {exc}") from None

    def upload(self, source: Path, progress: Progress | None = None) -> Stored:
        self.test_connection()
        bucket, key = self.configuration["bucket"], self.configuration["key"]
        try:
            self._client().upload_file(str(source), bucket, key, Callback=progress)
        except (ClientError, BotoCoreError) as exc:
            cause = getattr(exc, "last_exception", None) or exc
            explained = _explain(cause, bucket) if isinstance(cause, ClientError) else str(exc)
            raise ConnectorError(f"The upload to s3://{bucket}/{key} failed: {explained}") from None
        return Stored(f"s3://{bucket}/{key}", source.stat().st_size)

    def read_grant(self, stored: Stored, lifetime: timedelta, now: datetime) -> dict[str, str]:
        seconds = int(min(lifetime, DEFAULT_GRANT_LIFETIME).total_seconds())
        url = self._client().generate_presigned_url(
            "get_object",
            Params={"Bucket": self.configuration["bucket"], "Key": self.configuration["key"]},
            ExpiresIn=seconds,
        )
        return {"url": url, "expires": (now + timedelta(seconds=seconds)).isoformat()}

    @classmethod
    @contextmanager
    def open_grant(
        cls, grant: Mapping[str, str], *, timeout: float = 30.0, solid_client: Any = None
    ) -> Iterator[tuple[BinaryIO, int | None]]:
        with open_url(grant, "S3", timeout=timeout, session=session_of(solid_client)) as opened:
            yield opened


def _explain(exc: Exception, bucket: str) -> str:
    code = str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))
    if code in ("404", "NoSuchBucket"):
        return f"The bucket {bucket!r} does not exist."
    if code in ("403", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
        return (
            f"The S3 credentials do not work for the bucket {bucket!r} ({code}): check the "
            "access key, the secret and the bucket's policy."
        )
    return f"S3 refused the request ({code or type(exc).__name__})."
