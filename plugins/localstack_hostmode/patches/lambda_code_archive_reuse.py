"""Lambda in host mode: a new function version unpacks the code archive the service stored a
moment before from memory, instead of downloading it again from LocalStack's internal S3.

Why: LocalStack 4.14.0 stores the code of every CreateFunction / UpdateFunctionCode /
PublishLayerVersion in its internal bucket (``store_lambda_archive`` in services/lambda_/
invocation/lambda_service.py: CreateBucket, then an s3transfer upload), and the version that
starts right after downloads it back (``S3Code._download_archive_to_file`` in lambda_models.py:
an s3transfer download, HeadObject and GetObject on a pool of threads) to unpack it. A full
deploy of template.yaml did that round trip for each of its 17 functions, on the CPU the rest of
the stack needs.

What changes: ``store_lambda_archive`` keeps the bytes it stored (under the object's bucket and
key: each stored archive has a key of its own, written once), and the first download of that
object takes them instead of reading S3. The archive is still stored in S3 as before (GetFunction's
Code.Location, later unpacks after the disk cache is removed, destroy all read it there); the
bytes unpacked are the very bytes stored. Kept bytes are bounded (KEEP_BYTES, oldest dropped
first): an archive no version unpacked soon is read from S3 as before.

Verified on localstack-core 4.14.0; on any other version the registry (registry.py) skips it.
Opt-out: ``HOSTMODE_LAMBDA_ARCHIVE_REUSE=0``.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import IO, Any

from .registry import HostPatch, on_import, patch_function

LAMBDA_SERVICE = "localstack.services.lambda_.invocation.lambda_service"
LAMBDA_MODELS = "localstack.services.lambda_.invocation.lambda_models"
PROVIDER = "localstack.services.lambda_.provider"
# a layer of a few MB and a stack's functions at once; more waits in S3 as before
KEEP_BYTES = 64 * 1024 * 1024


class StoredArchives:
    """Archive bytes by (bucket, key), until their first read; at most `limit` bytes."""

    def __init__(self, limit: int = KEEP_BYTES) -> None:
        self.limit = limit
        self._lock = threading.Lock()
        self._archives: OrderedDict[tuple[str, str], bytes] = OrderedDict()
        self._size = 0

    def keep(self, bucket: str, key: str, data: bytes) -> None:
        if len(data) > self.limit:
            return
        with self._lock:
            self._drop((bucket, key))
            self._archives[(bucket, key)] = data
            self._size += len(data)
            while self._size > self.limit:
                self._drop(next(iter(self._archives)))

    def take(self, bucket: str, key: str) -> bytes | None:
        with self._lock:
            data = self._archives.pop((bucket, key), None)
            if data is not None:
                self._size -= len(data)
            return data

    def _drop(self, name: tuple[str, str]) -> None:
        data = self._archives.pop(name, None)
        if data is not None:
            self._size -= len(data)


ARCHIVES = StoredArchives()


def _store_and_keep(store: Any, archive_file: bytes, *args: Any, **kwargs: Any) -> Any:
    code = store(archive_file, *args, **kwargs)
    ARCHIVES.keep(code.s3_bucket, code.s3_key, bytes(archive_file))
    return code


def _download_kept(download: Any, self: Any, target_file: IO[bytes]) -> None:
    data = None if self.s3_object_version else ARCHIVES.take(self.s3_bucket, self.s3_key)
    if data is None:
        return download(self, target_file)
    target_file.write(data)
    target_file.flush()
    return None


def _provider_uses_patched_store(provider: Any) -> None:
    # the provider imported the function by name (CreateFunction with a ZipFile calls it)
    import importlib

    provider.store_lambda_archive = importlib.import_module(LAMBDA_SERVICE).store_lambda_archive


def apply() -> None:
    patch_function(LAMBDA_SERVICE, "store_lambda_archive", _store_and_keep)
    patch_function(LAMBDA_MODELS, "S3Code._download_archive_to_file", _download_kept)
    on_import(PROVIDER, _provider_uses_patched_store)


PATCH = HostPatch(
    name="lambda_code_archive_reuse",
    changes="a new Lambda version unpacks the code archive just stored from memory instead "
    "of downloading it back from the internal S3 bucket",
    why="every function of a deploy uploaded its code to internal S3 and downloaded it again "
    "at once (an s3transfer round trip each)",
    verified_on=("4.14.0",),
    opt_out="HOSTMODE_LAMBDA_ARCHIVE_REUSE",
    apply=apply,
)
