"""Uploaded files: a local directory by default, S3 in AWS. Keys are always server-generated."""

from stratus.storage.objects import (
    LocalDirObjectStore,
    ObjectStore,
    S3ObjectStore,
    get_object_store,
    prepare_object_store,
    reset_object_store,
)

__all__ = [
    "LocalDirObjectStore",
    "ObjectStore",
    "S3ObjectStore",
    "get_object_store",
    "prepare_object_store",
    "reset_object_store",
]
