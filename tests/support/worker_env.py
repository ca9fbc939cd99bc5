"""The environment `datacage worker` needs to start, with its secret in a file of its own."""

from __future__ import annotations

from pathlib import Path


def worker_identity(folder: Path) -> dict[str, str]:
    """The worker's required settings (control plane, issuer, client, secret file, folder)."""
    secret = folder / "secret"
    secret.write_text("s3cret\n")
    return {
        "DATACAGE_CONTROL_PLANE": "https://cp.example/",
        "DATACAGE_ISSUER": "https://idp.example/",
        "DATACAGE_CLIENT_ID": "cage",
        "DATACAGE_CLIENT_SECRET_FILE": str(secret),
        "DATACAGE_WORKER_DIR": str(folder / "cage"),
    }
